package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzDecode from the sample payloads")

// fuzzCommands is indexed by the fuzzer's command number, so that most
// inputs exercise a real layout.
var fuzzCommands = Commands()

// FuzzDecode decodes arbitrary payloads as any command, in either
// direction, with any version, partial or not. It must never panic, and the
// Values must stay well bracketed.
//
// mode: bits 0–2 version (0 auto, 1–4 = 0.5–0.8, others auto), bit 3
// payloads, bit 4 partial, bit 5 response.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s.cmd, s.mode, s.payload)
	}
	f.Fuzz(func(t *testing.T, cmd uint16, mode uint8, payload []byte) {
		c := fuzzCommands[int(cmd)%len(fuzzCommands)]
		v := Version(mode & 7)
		if v > V08 {
			v = VersionUnknown
		}
		d := NewDecoder(Options{Version: v, Payloads: mode&8 != 0})
		partial, resp := mode&16 != 0, mode&32 != 0
		wire := len(payload)
		if partial {
			wire += 1 + int(mode>>6) // a prefix of a longer payload
		}
		var rec Record
		var err error
		for range 2 { // the second time with what detection learnt
			if resp {
				err = d.Response(c.Code, payload, wire, &rec)
			} else {
				err = d.Request(c.Code, payload, wire, &rec)
			}
			if err != nil && err.Error() == "" {
				t.Fatal("empty error text")
			}
			if e := checkBalanced(rec.Values); e != nil {
				t.Fatalf("%d: %v", c.Code, e)
			}
			for _, v := range rec.Values {
				if v.Name == "" && v.Kind != KindEnd && v.Kind != KindObject {
					t.Fatalf("%d: unnamed %v value", c.Code, v.Kind)
				}
			}
		}
		if d.ValidRequest(c.Code, payload) && !resp {
			if err := NewDecoder(Options{Version: v}).Request(c.Code, payload, len(payload), &rec); err != nil && v != VersionUnknown {
				t.Fatalf("%d: valid request does not decode: %v", c.Code, err)
			}
		}
		with, without := NewDecoder(Options{Version: v, Messages: true}), NewDecoder(Options{Version: v})
		for range 2 {
			if _, err := sameDecode(c.Code, resp, payload, wire, with, without); err != nil {
				t.Fatalf("%d: with and without Options.Messages: %v", c.Code, err)
			}
		}
		_ = rec.Clone()
		_, _ = d.Version()
	})
}

type seed struct {
	cmd     uint16
	mode    uint8
	payload []byte
}

// seeds are the sample payloads of every command and version, in both
// directions, whole and partial.
func seeds() []seed {
	index := map[Code]uint16{}
	for i, c := range fuzzCommands {
		index[c.Code] = uint16(i)
	}
	seen := map[string]bool{}
	var out []seed
	for _, v := range versions {
		for code, p := range samples(v) {
			for dir, payload := range p {
				key := fmt.Sprint(code, dir, string(payload))
				if seen[key] {
					continue
				}
				seen[key] = true
				mode := uint8(v) | uint8(dir)<<5
				out = append(out, seed{index[code], mode, payload})
				if len(payload) > 2 {
					out = append(out, seed{index[code], mode&^7 | 16, payload[:len(payload)/2]})
				}
			}
		}
	}
	return out
}

// TestWriteFuzzCorpus rewrites the committed seed corpus with
// -update-corpus; otherwise it checks that the corpus exists.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if !*updateCorpus {
		if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) == 0 {
			t.Error("no committed seed corpus: run go test -run TestWriteFuzzCorpus -update-corpus")
		}
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds() {
		body := fmt.Sprintf("go test fuzz v1\nuint16(%d)\nbyte(%d)\n[]byte(%q)\n", s.cmd, s.mode, s.payload)
		sum := sha256.Sum256([]byte(body))
		name := filepath.Join(dir, hex.EncodeToString(sum[:8]))
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
