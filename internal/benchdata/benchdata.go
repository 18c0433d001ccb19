// Package benchdata builds realistic TCP segment streams for the decoder's
// benchmarks from real SDK traffic: it runs the test server, drives it with
// the real Go SDK through internal/workload, records the exact bytes of every
// request/response exchange (testserver.Config.OnExchange), and lays them out
// as the segments a capture source would deliver.
//
// A Stream is one replay of the recorded exchanges over a few connections.
// It is meant to be fed to a decoder many times: after each replay, Advance
// moves every segment's sequence number and time on by one replay, so the
// decoder sees one long steady-state connection per connection, never a new
// one. Handshake gives the SYNs that open the connections, to be fed once.
package benchdata

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/testserver"
	"github.com/iggytrace/iggytrace/internal/workload"
)

// MaxSegment is the largest segment a Stream carries: loopback GSO hands the
// capture super-segments of up to 64 KiB, so a large frame arrives in 64 KiB
// pieces. Smaller frames arrive one per segment (one write per frame).
const MaxSegment = 64 << 10

// Exchange is one request and its response, as the server saw them: whole
// frames, 8-byte headers included.
type Exchange struct {
	Conn              uint64 // the server's client id for the connection
	Request, Response []byte
}

// Code returns the request's command code.
func (e Exchange) Code() uint32 { return binary.LittleEndian.Uint32(e.Request[4:]) }

// Record starts a test server, runs drive against it, and returns every
// exchange the server answered, grouped by connection in order of first
// exchange, each connection's exchanges in order.
func Record(ctx context.Context, drive func(ctx context.Context, addr string) error) ([][]Exchange, error) {
	var (
		mu    sync.Mutex
		conns = map[uint64][]Exchange{}
		order []uint64
	)
	cfg := testserver.Config{
		RootPassword: workload.RootPassword,
		OnExchange: func(id uint64, req, resp []byte) {
			mu.Lock()
			defer mu.Unlock()
			if _, ok := conns[id]; !ok {
				order = append(order, id)
			}
			conns[id] = append(conns[id], Exchange{Conn: id, Request: req, Response: resp})
		},
	}
	srv, addr, err := testserver.Start(ctx, cfg, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	err = drive(ctx, addr.String())
	if cerr := srv.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("benchdata: %w", err)
	}
	out := make([][]Exchange, 0, len(order))
	for _, id := range order {
		out = append(out, conns[id])
	}
	return out, nil
}

// Workload parameters of the two streams.
const (
	Conns         = 4   // connections in each stream
	SendBatches   = 16  // SendMessages per connection
	SendBatchSize = 100 // messages per SendMessages
	SendMsgSize   = 1024
	SmallPerConn  = 500 // small commands per connection
)

// CodeSendMessages and the small commands' codes.
const (
	CodeSendMessages        = 101
	CodePing                = 1
	CodeGetStream           = 200
	CodeGetTopic            = 300
	CodeStoreConsumerOffset = 121
	CodeGetConsumerOffset   = 120
)

// SendMessages records a SendMessages-heavy load (workload.Produce: Conns
// connections, SendBatches batches of SendBatchSize × SendMsgSize-byte
// messages each) and returns it as a Stream of the SendMessages exchanges.
func SendMessages(ctx context.Context) (*Stream, error) {
	ex, err := Record(ctx, func(ctx context.Context, addr string) error {
		return workload.Produce(ctx, addr, Conns, SendBatches, SendBatchSize, SendMsgSize)
	})
	if err != nil {
		return nil, err
	}
	return Build("SendMessages", ex, IsSendMessages)
}

// IsSendMessages selects the exchanges of the SendMessages stream.
func IsSendMessages(code uint32) bool { return code == CodeSendMessages }

// IsSmallCommand selects the exchanges of the small-command stream.
func IsSmallCommand(code uint32) bool {
	switch code {
	case CodePing, CodeGetStream, CodeGetTopic, CodeStoreConsumerOffset, CodeGetConsumerOffset:
		return true
	}
	return false
}

// SmallCommands records a small-command load (workload.SmallCommands: Conns
// connections, SmallPerConn requests each, cycling through Ping, GetStream,
// GetTopic, StoreConsumerOffset and GetConsumerOffset) and returns it as a
// Stream of those exchanges.
func SmallCommands(ctx context.Context) (*Stream, error) {
	ex, err := Record(ctx, func(ctx context.Context, addr string) error {
		return workload.SmallCommands(ctx, addr, Conns, SmallPerConn)
	})
	if err != nil {
		return nil, err
	}
	return Build("SmallCommands", ex, IsSmallCommand)
}

// Stream is one replay of recorded exchanges as TCP segments.
type Stream struct {
	Name string
	// Segments is the replay, in capture order. Data points into the
	// recorded frames; Seq and Time are those of the current replay.
	Segments []decoder.Segment
	Conns    int   // connections
	Pairs    int   // exchanges per replay
	Frames   int   // frames per replay: requests + responses
	Bytes    int64 // TCP payload bytes per replay, both directions
	Codes    map[uint32]int

	keys    []decoder.ConnKey
	isn     [][2]uint32 // per connection and direction
	total   [][2]uint32 // per connection and direction: bytes per replay
	step    []uint32    // per segment: its direction's bytes per replay
	replays uint32      // Advance calls so far
	span    int64       // capture time of one replay
	dtime   int64
}

// Segment spacing in capture time.
const segmentInterval = int64(time.Microsecond)

// Build lays out the exchanges of conns (as Record returns them) whose
// request code keep accepts as segments. Exchanges are interleaved the way
// concurrent clients with one request in flight each produce them: in round
// i, every connection's i-th request, then every connection's i-th response.
// A frame is carried by segments of at most MaxSegment bytes, the first one
// starting with the frame. Connections with nothing kept are left out.
func Build(name string, conns [][]Exchange, keep func(code uint32) bool) (*Stream, error) {
	var kept [][]Exchange
	for _, c := range conns {
		var k []Exchange
		for _, e := range c {
			if len(e.Request) < 8 || len(e.Response) < 8 {
				return nil, fmt.Errorf("benchdata: short frame on connection %d", e.Conn)
			}
			if keep(e.Code()) {
				k = append(k, e)
			}
		}
		if len(k) > 0 {
			kept = append(kept, k)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("benchdata: %s: no exchanges recorded", name)
	}
	s := &Stream{Name: name, Conns: len(kept), Codes: map[uint32]int{}, dtime: segmentInterval}
	server := netip.MustParseAddrPort("127.0.0.1:8090")
	next := make([][2]uint32, len(kept)) // stream offset per connection and direction
	for i := range kept {
		s.keys = append(s.keys, decoder.ConnKey{
			Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(40000+i)),
			Server: server,
		})
		// Sequence numbers close to the wrap, so that long runs cross it.
		s.isn = append(s.isn, [2]uint32{0xf0000000 + uint32(i)<<20, 0x80000000 + uint32(i)<<20})
	}
	var owner []int // per segment: its connection
	add := func(c int, dir decoder.Direction, frame []byte) {
		for off := 0; off < len(frame); off += MaxSegment {
			p := frame[off:min(off+MaxSegment, len(frame))]
			s.Segments = append(s.Segments, decoder.Segment{
				Time: int64(len(s.Segments)) * s.dtime,
				Key:  s.keys[c],
				Dir:  dir,
				Seq:  s.isn[c][dir] + 1 + next[c][dir],
				Len:  uint32(len(p)),
				Data: p,
			})
			owner = append(owner, c)
			next[c][dir] += uint32(len(p))
			s.Bytes += int64(len(p))
		}
		s.Frames++
	}
	for round := 0; ; round++ {
		more := false
		for c, ex := range kept {
			if round < len(ex) {
				add(c, decoder.ToServer, ex[round].Request)
				s.Codes[ex[round].Code()]++
				s.Pairs++
				more = true
			}
		}
		for c, ex := range kept {
			if round < len(ex) {
				add(c, decoder.ToClient, ex[round].Response)
			}
		}
		if !more {
			break
		}
	}
	for i, sg := range s.Segments {
		s.step = append(s.step, next[owner[i]][sg.Dir])
	}
	s.total = next
	s.span = int64(len(s.Segments)) * s.dtime
	return s, nil
}

// Handshake returns the SYNs that open the Stream's connections, one per
// direction, just before the current replay: a new decoder can start at any
// replay.
func (s *Stream) Handshake() []decoder.Segment {
	var out []decoder.Segment
	for c, k := range s.keys {
		for _, dir := range []decoder.Direction{decoder.ToServer, decoder.ToClient} {
			out = append(out, decoder.Segment{
				Time: s.Segments[0].Time - 1, Key: k, Dir: dir, Flags: decoder.SYN,
				Seq: s.isn[c][dir] + s.replays*s.total[c][dir],
			})
		}
	}
	return out
}

// Advance moves every segment on by one replay: sequence numbers by the
// bytes its direction carried, times by the replay's span.
func (s *Stream) Advance() {
	for i := range s.Segments {
		s.Segments[i].Seq += s.step[i]
		s.Segments[i].Time += s.span
	}
	s.replays++
}

// Describe is a one-line summary of the Stream for benchmark logs.
func (s *Stream) Describe() string {
	codes := make([]uint32, 0, len(s.Codes))
	for c := range s.Codes {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
	out := fmt.Sprintf("%s: %d conns, %d exchanges, %d frames, %d segments, %d bytes per replay; codes",
		s.Name, s.Conns, s.Pairs, s.Frames, len(s.Segments), s.Bytes)
	for _, c := range codes {
		out += fmt.Sprintf(" %d×%d", c, s.Codes[c])
	}
	return out
}
