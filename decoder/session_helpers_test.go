package decoder_test

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

func loadSession(t testing.TB) []decoder.Segment {
	t.Helper()
	f, err := os.Open("../testdata/session.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcapfile.NewReader(f, pcapfile.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out []decoder.Segment
	var seg decoder.Segment
	for {
		if err := rd.Next(&seg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		s := seg
		s.Data = append([]byte(nil), seg.Data...)
		out = append(out, s)
	}
	return out
}
