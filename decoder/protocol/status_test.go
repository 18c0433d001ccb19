package protocol

import (
	"bytes"
	"os"
	"testing"

	"github.com/iggytrace/iggytrace/decoder/protocol/internal/statusgen"
)

func TestStatusNames(t *testing.T) {
	// §8: 240 distinct codes over all versions.
	if n := len(Statuses()); n != 240 {
		t.Errorf("%d status codes, want 240", n)
	}
	for code, want := range map[uint32]string{
		0: "OK", 3: "InvalidCommand", 4: "InvalidFormat", 8: "Disconnected", 40: "Unauthenticated",
		41: "Unauthorized", 42: "InvalidCredentials", 1009: "StreamIdNotFound",
		// 1011 was StreamIdAlreadyExists up to 0.5; the newest name wins.
		1011:  "StreamDirectoryNotFound",
		2012:  "TopicIdAlreadyExists", // 0.5 only
		4017:  "TooBigUserHeaders",
		5009:  "ConsumerGroupPartitionNotOwned", // head only
		14003: "IncompatibleProtocolVersion",
		17:    "", 999_999: "",
	} {
		if got := StatusName(code); got != want {
			t.Errorf("StatusName(%d) = %q, want %q", code, got, want)
		}
	}
	for _, s := range Statuses() {
		if s.Code == 1011 && s.Older != "0.5.0: StreamIdAlreadyExists" {
			t.Errorf("1011 older name %q", s.Older)
		}
	}
}

// status_gen.go is what go generate makes from testdata/errors.
func TestStatusTableCurrent(t *testing.T) {
	want, err := statusgen.Generate("testdata/errors")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("status_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("status_gen.go is stale: run go generate ./decoder/protocol")
	}
}

// docs/protocol.md is WriteMarkdown's output.
func TestProtocolDocCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Error("docs/protocol.md is stale: run go generate ./decoder/protocol")
	}
	for _, c := range Commands() {
		if !bytes.Contains(b.Bytes(), []byte("`"+c.Dotted+"`")) {
			t.Errorf("%s missing from the markdown", c.Dotted)
		}
	}
}
