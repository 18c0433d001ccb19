//go:build !linux

package afpacket

import (
	"context"
	"errors"

	"github.com/iggytrace/iggytrace/export/pcapng"
)

var errNotLinux = errors.New("afpacket: live capture needs Linux AF_PACKET sockets")

// Handle is an open capture socket; on this system there is none.
type Handle struct{}

// Open fails: AF_PACKET is Linux-only.
func Open(iface string, ports []uint16) (*Handle, error) { return nil, errNotLinux }

// Run fails: AF_PACKET is Linux-only.
func (h *Handle) Run(ctx context.Context, w *pcapng.Writer) (Stats, error) {
	return Stats{}, errNotLinux
}

// Close does nothing.
func (h *Handle) Close() error { return nil }

// Capture fails: AF_PACKET is Linux-only.
func Capture(ctx context.Context, iface string, ports []uint16, w *pcapng.Writer) (Stats, error) {
	return Stats{}, errNotLinux
}
