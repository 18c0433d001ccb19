// Package samples embeds a real capture in the iggytrace binary, so that
// `iggytrace read` shows what the tool does with no Iggy server and no file:
// a full session of the official Go SDK against iggytrace's test server,
// recorded on loopback by internal/capturegen (a copy of testdata/session.pcapng).
package samples

import (
	_ "embed"
	"io"
	"strings"
)

//go:embed session.pcapng
var session string

// SessionName names the embedded capture in messages.
const SessionName = "embedded sample session"

// Session returns a reader over the embedded capture.
func Session() io.Reader { return strings.NewReader(session) }
