package decoder_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

func TestZZDump(t *testing.T) {
	segs := session(t)
	raw, _ := os.ReadFile("testdata/fuzz/FuzzTracker/" + os.Getenv("ZZ"))
	line := strings.Split(string(raw), "\n")[1]
	q := strings.TrimSuffix(strings.TrimPrefix(line, "[]byte("), ")")
	script, err := strconv.Unquote(q)
	if err != nil {
		t.Fatal(err)
	}
	in := mutate(segs, []byte(script), false)
	fmt.Printf("script % x\n", script)
	// which original segments are where
	idx := map[int64]int{}
	for i := range segs {
		idx[segs[i].Time] = i
	}
	for _, s := range in {
		fmt.Printf("seg %d dir=%d len=%d/%d seq=%d\n", idx[s.Time], s.Dir, len(s.Data), s.Len, s.Seq)
	}
	got := track(decoder.Config{}, in)
	fmt.Println(got.dump())
}
