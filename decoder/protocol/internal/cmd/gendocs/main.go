// Command gendocs regenerates docs/protocol.md from the command table. Run
// it with `go generate` in decoder/protocol.
package main

import (
	"bytes"
	"log"
	"os"

	"github.com/iggytrace/iggytrace/decoder/protocol"
)

func main() {
	var b bytes.Buffer
	if err := protocol.WriteMarkdown(&b); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("../../docs/protocol.md", b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
