package protocol

import (
	"strconv"
	"strings"
	"testing"
)

// Secrets never reach a Value, an error or the Summary: not their bytes and
// not their length, whole or truncated, partial or not.
func TestRedaction(t *testing.T) {
	const (
		pw  = "Hunter2-Zq9Kx-Wv8Lm-Jn7Rb!"
		pw2 = "Qu4ntum-Fl0ss-Yy3Dd-Ee5Gg#"
		tok = "pat_9f8e7d6c5b4a39281706f5e4d3c2b1a0ZZZZYYYYXXXXWWWWVVVVUUUUTTTTSSSS"
	)
	cases := []struct {
		name    string
		code    Code
		resp    bool
		payload []byte
		secrets []string
	}{
		{"login", 38, false, (&wb{}).str8("alice").str8(pw).str32("0.8.0").str32("ctx").bytes(), []string{pw}},
		{"create user", 33, false, (&wb{}).str8("bob").str8(pw).u8(1).u8(0).bytes(), []string{pw}},
		{"change password", 37, false, (&wb{}).idStr("alice").str8(pw).str8(pw2).bytes(), []string{pw, pw2}},
		{"pat login", 44, false, (&wb{}).str8(tok).bytes(), []string{tok}},
		{"pat create response", 42, true, (&wb{}).str8(tok).bytes(), []string{tok}},
		{"login register", 40, false, (&wb{}).u32(1).str8("go").str8("1").str8("alice").str8(pw).str32("").bytes(), []string{pw}},
		{"login register pat", 45, false, (&wb{}).u32(1).str8("go").str8("1").str8(tok).str32("").bytes(), []string{tok}},
	}
	for _, c := range cases {
		for _, payloads := range []bool{false, true} {
			d := NewDecoder(Options{Payloads: payloads})
			var rec Record
			for n := 0; n <= len(c.payload); n++ {
				for _, partial := range []bool{false, true} {
					wire := n
					if partial {
						wire = len(c.payload) + 1
					}
					var err error
					if c.resp {
						err = d.Response(c.code, c.payload[:n], wire, &rec)
					} else {
						err = d.Request(c.code, c.payload[:n], wire, &rec)
					}
					where := c.name + " prefix " + strconv.Itoa(n)
					if n == len(c.payload) && err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					checkNoSecret(t, where, &rec, err, c.secrets)
				}
			}
			// The complete payload decodes to one redacted value per secret.
			var redacted int
			for _, v := range rec.Values {
				if v.Kind == KindRedacted {
					redacted++
					if v.Str != "" || v.Num != 0 || v.Hi != 0 {
						t.Errorf("%s: redacted value carries data: %+v", c.name, v)
					}
				}
			}
			if redacted != len(c.secrets) {
				t.Errorf("%s: %d redacted values, want %d", c.name, redacted, len(c.secrets))
			}
		}
	}
}

func checkNoSecret(t *testing.T, where string, rec *Record, err error, secrets []string) {
	t.Helper()
	var texts []string
	for _, v := range rec.Values {
		texts = append(texts, v.Str)
		for _, s := range secrets {
			if v.Num == uint64(len(s)) && v.Kind != KindEnd && v.Kind != KindObject {
				// A number equal to a secret's length is suspicious only on
				// a value next to the secret; none of these payloads has
				// another field of that size.
				t.Errorf("%s: value %s = %d, a secret's length", where, v.Name, v.Num)
			}
		}
	}
	s := rec.Summary
	texts = append(texts, s.Stream, s.Topic, s.ConsumerGroup, s.Username, string(rec.arena))
	if err != nil {
		texts = append(texts, err.Error())
		for _, sec := range secrets {
			if strings.Contains(err.Error(), strconv.Itoa(len(sec))) {
				t.Errorf("%s: error %q contains a secret's length", where, err)
			}
		}
	}
	for _, txt := range texts {
		for _, sec := range secrets {
			// Any 4-byte run of the secret is too much.
			for i := 0; i+4 <= len(sec); i++ {
				if strings.Contains(txt, sec[i:i+4]) {
					t.Fatalf("%s: %q leaks secret bytes %q", where, txt, sec[i:i+4])
				}
			}
		}
	}
}
