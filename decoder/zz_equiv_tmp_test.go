package decoder_test

// TEMPORARY (removed before hand-off): dumps every event the tracker emits on
// the bench streams and on mangled variants of them, to compare the output
// before and after the performance changes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/benchdata"
	"github.com/iggytrace/iggytrace/internal/workload"
)

func dumpEvent(w *bufio.Writer, ev *decoder.Event) {
	cmd := ""
	if c := ev.Cmd(); c != nil {
		cmd = c.Name
	}
	var st decoder.ConnStats
	if ev.Stats != nil {
		st = *ev.Stats
	}
	fmt.Fprintf(w, "%v %v %d %v %v req=%d/%d resp=%d/%d lat=%d code=%d %q st=%d %q nf=%v sum=%+v err=%q dir=%v bytes=%d reason=%q stats=%+v hasStats=%v cmd=%q\n",
		ev.Kind, ev.Flags.Names(), ev.ConnID, ev.Client, ev.Server, ev.ReqTime, ev.ReqBytes, ev.RespTime, ev.RespBytes,
		ev.Latency, ev.Code, ev.Command, ev.Status, ev.StatusName, ev.NotFound, ev.Summary, ev.Error, ev.Dir, ev.Bytes,
		ev.Reason, st, ev.Stats != nil, cmd)
	fmt.Fprintf(w, "  req(%d,%d) %+v\n  resp(%d,%d) %+v\n", len(ev.Request), cap(ev.Request), ev.Request, len(ev.Response), cap(ev.Response), ev.Response)
}

func TestEquivDump(t *testing.T) {
	path := os.Getenv("EQUIV_DUMP")
	if path == "" {
		t.Skip("EQUIV_DUMP not set")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	defer w.Flush()
	var held []*decoder.Event
	emit := func(ev *decoder.Event) { held = append(held, ev) }
	flushHeld := func() {
		// Dump after the run, so that a later decode overwriting an earlier
		// event's memory would show.
		for _, ev := range held {
			dumpEvent(w, ev)
		}
		held = held[:0]
	}
	for _, s := range equivStreams(t) {
		for variant := range 10 {
			fmt.Fprintf(w, "== %s variant %d\n", s.Name, variant)
			cfg := decoder.Config{}
			if variant == 3 {
				cfg.MaxPending = 2
			}
			if variant == 6 {
				cfg.MaxConns = 2
			}
			if variant >= 8 {
				cfg.Protocol.Payloads = true
			}
			tr := decoder.NewTracker(cfg, emit)
			rng := rand.New(rand.NewPCG(uint64(variant), 7))
			if variant != 1 {
				for _, sg := range s.Handshake() {
					tr.Feed(&sg)
				}
			}
			for rep := range 3 {
				segs := append([]decoder.Segment(nil), s.Segments...)
				switch variant {
				case 2: // drop segments: gaps, causal pairing
					var k []decoder.Segment
					for _, sg := range segs {
						if rng.IntN(20) != 0 {
							k = append(k, sg)
						}
					}
					segs = k
				case 3, 4: // pipelining: all requests of a connection first
					var req, resp []decoder.Segment
					for _, sg := range segs {
						if sg.Dir == decoder.ToServer {
							req = append(req, sg)
						} else {
							resp = append(resp, sg)
						}
					}
					if variant == 4 {
						resp = nil // one-directional
					}
					segs = append(req, resp...)
				case 5: // header-only capture and swaps
					for i := range segs {
						if len(segs[i].Data) > 40 && rng.IntN(3) == 0 {
							segs[i].Data = segs[i].Data[:40]
						}
						if i > 0 && rng.IntN(10) == 0 {
							segs[i], segs[i-1] = segs[i-1], segs[i]
						}
					}
				case 9: // header-only with payloads
					for i := range segs {
						if len(segs[i].Data) > 3000 && rng.IntN(2) == 0 {
							segs[i].Data = segs[i].Data[:3000]
						}
					}
				case 7: // duplicates and resets
					var k []decoder.Segment
					for _, sg := range segs {
						k = append(k, sg)
						if rng.IntN(15) == 0 {
							k = append(k, sg)
						}
					}
					segs = k
					if rep == 2 {
						segs[len(segs)/2].Flags |= decoder.RST
					}
				}
				for i := range segs {
					tr.Feed(&segs[i])
				}
				s.Advance()
				if rep == 1 {
					flushHeld()
				}
			}
			tr.Flush()
			flushHeld()
			fmt.Fprintf(w, "stats %+v\n", tr.Stats())
		}
	}
}

func equivStreams(t *testing.T) []*benchdata.Stream {
	const cache = "/tmp/equiv_exchanges.gob"
	var all [2][][]benchdata.Exchange
	if b, err := os.ReadFile(cache); err == nil {
		if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&all); err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		all[0], err = benchdata.Record(context.Background(), func(ctx context.Context, addr string) error {
			return workload.Produce(ctx, addr, 4, 16, 100, 1024)
		})
		if err != nil {
			t.Fatal(err)
		}
		all[1], err = benchdata.Record(context.Background(), func(ctx context.Context, addr string) error {
			return workload.SmallCommands(ctx, addr, 4, 500)
		})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(all); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(cache, buf.Bytes(), 0o644)
	}
	a, err := benchdata.Build("SendMessages", all[0], benchdata.IsSendMessages)
	if err != nil {
		t.Fatal(err)
	}
	b, err := benchdata.Build("SmallCommands", all[1], benchdata.IsSmallCommand)
	if err != nil {
		t.Fatal(err)
	}
	return []*benchdata.Stream{a, b}
}
