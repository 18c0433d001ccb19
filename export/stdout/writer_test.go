package stdout

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTime checks the hand-rolled timestamp against the layout it
// replaces, across the whole range a capture can carry.
func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []int64{0, 1, 999, 1_000, 1_767_225_599_999_999_999, -1}
	for range 10000 {
		cases = append(cases, r.Int64N(math.MaxInt64))  // up to 2262, the end of int64 nanoseconds
		cases = append(cases, -r.Int64N(math.MaxInt64)) // back to 1677
	}
	cases = append(cases, math.MinInt64, math.MaxInt64, 951_782_400e9, 4_107_542_400e9-1) // 2000-02-29, 2100-02-28T23:59:59.999999999
	for _, ns := range cases {
		want := time.Unix(0, ns).UTC().AppendFormat(nil, "2006-01-02T15:04:05.000000Z07:00")
		if got := appendTime(nil, ns); string(got) != string(want) {
			t.Fatalf("appendTime(%d) = %s, want %s", ns, got, want)
		}
	}
}

// TestAppendJSONString: every string, whatever its bytes, becomes valid JSON
// that decodes to the same text (invalid UTF-8 to U+FFFD).
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "\x00\x1f\n\r\t", "\u2028\u2029", "é€𝄞", "\xff\xfe bad", "<html>&"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q → %s: %v", s, b, err)
		}
		want := string([]rune(s)) // invalid bytes become U+FFFD, as here
		if got != want {
			t.Errorf("%q → %s decodes to %q, want %q", s, b, got, want)
		}
	}
}
