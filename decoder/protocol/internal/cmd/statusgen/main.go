// Command statusgen regenerates status_gen.go of package protocol. Run it
// with `go generate` in decoder/protocol.
package main

import (
	"log"
	"os"

	"github.com/iggytrace/iggytrace/decoder/protocol/internal/statusgen"
)

func main() {
	src, err := statusgen.Generate("testdata/errors")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("status_gen.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
