package samples

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// TestSessionIsTestdata: the embedded capture is testdata/session.pcapng
// byte for byte (`make testdata` copies it), so that `iggytrace read` with
// no file prints what the golden files pin.
func TestSessionIsTestdata(t *testing.T) {
	want, err := os.ReadFile("../../testdata/session.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(Session())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("embedded session (%d bytes) differs from testdata/session.pcapng (%d bytes): run make testdata", len(got), len(want))
	}
}
