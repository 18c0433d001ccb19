package protocol_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/internal/testserver"
	"github.com/iggytrace/iggytrace/internal/workload"
)

// This file holds the plumbing of TestSDKBytes: running the workload against
// the test server, pairing each request frame the server saw with the Call
// the workload logged for it, decoding both directions, and looking decoded
// values up by path.

// wireExchange is one request/response pair as the test server saw it.
type wireExchange struct {
	conn      uint64
	req, resp []byte
}

// sdkExchange is one logged call together with its frames and their
// decoding.
type sdkExchange struct {
	call   workload.Call
	conn   int    // workload connection index
	seq    int    // position on its connection
	code   uint32 // from the request frame
	status uint32 // from the response frame
	req    *decoded
	resp   *decoded // nil when the status is not OK
	// reqP and respP are the same payloads decoded by a second Decoder of
	// the connection with Options.Payloads: message payloads and user-header
	// values included.
	reqP, respP *decoded
}

// sdkRun is one run of workload.Full, decoded.
type sdkRun struct {
	exchanges []*sdkExchange
	calls     []workload.Call
	// decoders are the auto-detecting Decoders, by connection index.
	decoders []*protocol.Decoder
	// began and ended bound the run, in µs since the epoch.
	began, ended uint64
}

// decoded is one decoded payload: its Values (cloned, so they outlive the
// Record), its Summary and the decoder's error.
type decoded struct {
	payload []byte
	vals    []protocol.Value
	sum     protocol.Summary
	err     error
	flat    *flat
}

func (e *sdkExchange) String() string {
	return fmt.Sprintf("conn %d #%d %s (code %d, status %d)", e.conn, e.seq, e.call.Method, e.code, e.status)
}

// runSDKWorkload runs workload.Full against a fresh test server, then pairs
// every exchange with its Call and decodes it with one Decoder per
// connection (auto-detecting the version). The log maps one to one, in
// order, onto each connection's request frames; a connection is matched to
// a workload connection index by its sequence of command codes.
func runSDKWorkload(t *testing.T) *sdkRun {
	t.Helper()
	run := &sdkRun{}
	var (
		mu  sync.Mutex
		all []wireExchange
	)
	hook := func(conn uint64, req, resp []byte) {
		mu.Lock()
		all = append(all, wireExchange{conn, req, resp})
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, addr, err := testserver.Start(ctx, testserver.Config{RootPassword: workload.RootPassword, OnExchange: hook}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run.began = uint64(time.Now().UnixMicro())
	calls, ferr := workload.Full(ctx, addr.String())
	run.ended = uint64(time.Now().UnixMicro())
	run.calls = calls
	cancel()
	if err := srv.Close(); err != nil {
		t.Errorf("close test server: %v", err)
	}
	if ferr != nil {
		t.Fatalf("workload.Full: %v", ferr)
	}

	// Only now, after Close, is the exchange log complete.
	byConn := map[uint64][]wireExchange{}
	var connIDs []uint64
	for _, ex := range all {
		if len(ex.req) < 8 || len(ex.resp) < 8 {
			t.Fatalf("conn %d: short frame (request %d bytes, response %d bytes)", ex.conn, len(ex.req), len(ex.resp))
		}
		if _, ok := byConn[ex.conn]; !ok {
			connIDs = append(connIDs, ex.conn)
		}
		byConn[ex.conn] = append(byConn[ex.conn], ex)
	}
	slices.Sort(connIDs)
	logged := map[int][]workload.Call{}
	for _, c := range calls {
		logged[c.ConnIndex] = append(logged[c.ConnIndex], c)
	}
	if len(logged) != len(byConn) {
		t.Fatalf("%d connections logged, %d on the wire", len(logged), len(byConn))
	}

	used := map[uint64]bool{}
	for idx := 0; idx < len(logged); idx++ {
		cs := logged[idx]
		var match uint64
		found := false
		for _, id := range connIDs {
			if !used[id] && sameCodes(cs, byConn[id]) {
				match, found = id, true
				break
			}
		}
		if !found {
			t.Fatalf("connection %d: no wire connection carries its %d calls in order", idx, len(cs))
		}
		used[match] = true
		dec := protocol.NewDecoder(protocol.Options{Messages: true})
		decP := protocol.NewDecoder(protocol.Options{Payloads: true})
		run.decoders = append(run.decoders, dec)
		for i, c := range cs {
			ex := byConn[match][i]
			e := &sdkExchange{
				call:   c,
				conn:   idx,
				seq:    i,
				code:   binary.LittleEndian.Uint32(ex.req[4:8]),
				status: binary.LittleEndian.Uint32(ex.resp[0:4]),
			}
			if n := binary.LittleEndian.Uint32(ex.resp[4:8]); int(n) != len(ex.resp)-8 {
				t.Fatalf("%v: response header says %d payload bytes, frame has %d", e, n, len(ex.resp)-8)
			}
			if n := binary.LittleEndian.Uint32(ex.req[0:4]); int(n) != len(ex.req)-4 {
				t.Fatalf("%v: request header says %d bytes after it, frame has %d", e, n, len(ex.req)-4)
			}
			e.req = decodeWith(dec.Request, protocol.Code(e.code), ex.req[8:])
			e.reqP = decodeWith(decP.Request, protocol.Code(e.code), ex.req[8:])
			if e.status == 0 {
				e.resp = decodeWith(dec.Response, protocol.Code(e.code), ex.resp[8:])
				e.respP = decodeWith(decP.Response, protocol.Code(e.code), ex.resp[8:])
			} else if len(ex.resp) != 8 {
				t.Errorf("%v: error response carries %d payload bytes", e, len(ex.resp)-8)
			}
			run.exchanges = append(run.exchanges, e)
		}
	}
	return run
}

func sameCodes(cs []workload.Call, ex []wireExchange) bool {
	if len(cs) != len(ex) {
		return false
	}
	for i := range cs {
		if cs[i].Code != binary.LittleEndian.Uint32(ex[i].req[4:8]) {
			return false
		}
	}
	return true
}

func decodeWith(f func(protocol.Code, []byte, int, *protocol.Record) error, code protocol.Code, payload []byte) *decoded {
	var rec protocol.Record
	err := f(code, payload, len(payload), &rec)
	vals := rec.Clone() // re-points rec.Summary at the clone
	return &decoded{payload: payload, vals: vals, sum: rec.Summary, err: err, flat: flatten(vals)}
}

// flat indexes decoded Values by path: "name", "consumer.id",
// "messages[3].id", "types[0]" (an element of a list of scalars). Lists and
// objects are indexed too, and lens holds each list's length.
type flat struct {
	vals  map[string]protocol.Value
	lens  map[string]int
	order []string // paths of the leaves, in wire order
}

func flatten(vals []protocol.Value) *flat {
	f := &flat{vals: map[string]protocol.Value{}, lens: map[string]int{}}
	type frame struct {
		path string
		list bool
	}
	var stack []frame
	child := func(name string) string {
		if len(stack) == 0 {
			return name
		}
		top := stack[len(stack)-1]
		if top.list {
			p := top.path + "[" + strconv.Itoa(f.lens[top.path]) + "]"
			f.lens[top.path]++
			return p
		}
		return top.path + "." + name
	}
	for _, v := range vals {
		switch v.Kind {
		case protocol.KindEnd:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case protocol.KindObject, protocol.KindList:
			p := child(v.Name)
			f.vals[p] = v
			if v.Kind == protocol.KindList {
				f.lens[p] = 0
			}
			stack = append(stack, frame{path: p, list: v.Kind == protocol.KindList})
		default:
			p := child(v.Name)
			f.vals[p] = v
			f.order = append(f.order, p)
		}
	}
	return f
}

// view reads a decoded payload by path, reporting a missing path or a value
// of an unexpected kind as a test error (and returning the zero value), so
// that assertions read as comparisons. A view may be rooted at a prefix,
// e.g. "topics[1]", to read a nested record with the record's own paths.
type view struct {
	t      *testing.T
	what   string
	f      *flat
	prefix string
}

func (d *decoded) view(t *testing.T, what string) view { return view{t: t, what: what, f: d.flat} }

func (v view) at(prefix string) view {
	v.prefix = v.path(prefix)
	return v
}

func (v view) path(p string) string {
	switch {
	case v.prefix == "":
		return p
	case p == "":
		return v.prefix
	case strings.HasPrefix(p, "["):
		return v.prefix + p
	}
	return v.prefix + "." + p
}

func (v view) has(p string) bool {
	_, ok := v.f.vals[v.path(p)]
	return ok
}

func (v view) get(p string, kinds ...protocol.Kind) (protocol.Value, bool) {
	v.t.Helper()
	val, ok := v.f.vals[v.path(p)]
	if !ok {
		v.t.Errorf("%s: no decoded value at %q", v.what, v.path(p))
		return protocol.Value{}, false
	}
	if len(kinds) > 0 && !slices.Contains(kinds, val.Kind) {
		v.t.Errorf("%s: %s is a %v, want one of %v", v.what, v.path(p), val.Kind, kinds)
		return protocol.Value{}, false
	}
	return val, true
}

// num reads an unsigned number (KindUint); times, durations, bools and
// enums have their own readers, so a kind change shows.
func (v view) num(p string) uint64 {
	v.t.Helper()
	val, _ := v.get(p, protocol.KindUint)
	return val.Num
}

func (v view) u32(p string) uint32 {
	v.t.Helper()
	n := v.num(p)
	if n > math.MaxUint32 {
		v.t.Errorf("%s: %s = %d does not fit a u32", v.what, v.path(p), n)
	}
	return uint32(n)
}

func (v view) boolean(p string) bool {
	v.t.Helper()
	val, _ := v.get(p, protocol.KindBool)
	return val.Num != 0
}

func (v view) float(p string) float64 {
	v.t.Helper()
	val, _ := v.get(p, protocol.KindFloat)
	return math.Float64frombits(val.Num)
}

func (v view) str(p string) string {
	v.t.Helper()
	val, _ := v.get(p, protocol.KindString)
	return val.Str
}

// enum returns an enum's wire number and name.
func (v view) enum(p string) (uint64, string) {
	v.t.Helper()
	val, _ := v.get(p, protocol.KindEnum)
	return val.Num, val.Str
}

// ident returns an identifier the way workload.Call.Args holds it: uint32
// for a numeric identifier, string for a named one.
func (v view) ident(p string) any {
	v.t.Helper()
	val, ok := v.get(p, protocol.KindString)
	if !ok {
		return nil
	}
	switch val.Num {
	case 1:
		n, err := strconv.ParseUint(val.Str, 10, 32)
		if err != nil {
			v.t.Errorf("%s: numeric identifier %s = %q", v.what, v.path(p), val.Str)
		}
		return uint32(n)
	case 2:
		return val.Str
	}
	v.t.Errorf("%s: identifier %s has kind %d", v.what, v.path(p), val.Num)
	return nil
}

// id128 renders a u128 (a message id) as the 16 bytes the SDK holds, in
// wire order: the low u64 little-endian, then the high u64.
func (v view) id128(p string) [16]byte {
	v.t.Helper()
	val, _ := v.get(p, protocol.KindU128)
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], val.Num)
	binary.LittleEndian.PutUint64(b[8:], val.Hi)
	return b
}

// count is the number of elements of the list at p.
func (v view) count(p string) int {
	v.t.Helper()
	if _, ok := v.get(p, protocol.KindList); !ok {
		return -1
	}
	return v.f.lens[v.path(p)]
}

// kind is the kind of the value at p, KindInvalid when there is none.
func (v view) kind(p string) protocol.Kind {
	return v.f.vals[v.path(p)].Kind
}

// eq reports a mismatch between a decoded field and what the SDK saw.
func eq[T comparable](t *testing.T, what, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: %s = %v, want %v", what, field, got, want)
	}
}

// time reads a timestamp (µs since the epoch).
func (v view) time(p string) uint64 {
	v.t.Helper()
	val, _ := v.get(p, protocol.KindTime)
	return val.Num
}

// expiry reads an IggyExpiry (§4.8): 0 must decode as the enum
// "server_default", u64 max as "never_expire", anything else as a duration.
func (v view) expiry(p string) uint64 {
	v.t.Helper()
	return v.sentinel(p, protocol.KindDuration, map[uint64]string{0: "server_default", math.MaxUint64: "never_expire"})
}

// topicSize reads a MaxTopicSize: 0 "server_default", u64 max "unlimited".
func (v view) topicSize(p string) uint64 {
	v.t.Helper()
	return v.sentinel(p, protocol.KindUint, map[uint64]string{0: "server_default", math.MaxUint64: "unlimited"})
}

// expiryAt reads a PAT expiry time: 0 "never_expire", else a timestamp.
func (v view) expiryAt(p string) uint64 {
	v.t.Helper()
	return v.sentinel(p, protocol.KindTime, map[uint64]string{0: "never_expire"})
}

func (v view) sentinel(p string, plain protocol.Kind, names map[uint64]string) uint64 {
	v.t.Helper()
	val, ok := v.get(p)
	if !ok {
		return 0
	}
	if name, isSentinel := names[val.Num]; isSentinel {
		if val.Kind != protocol.KindEnum || val.Str != name {
			v.t.Errorf("%s: %s = %d decodes as %v %q, want the enum %q", v.what, v.path(p), val.Num, val.Kind, val.Str, name)
		}
	} else if val.Kind != plain {
		v.t.Errorf("%s: %s = %d is a %v, want %v", v.what, v.path(p), val.Num, val.Kind, plain)
	}
	return val.Num
}

// none asserts that a payload decoded to no values at all.
func (d *decoded) none(t *testing.T, what string) {
	t.Helper()
	if len(d.vals) != 0 {
		t.Errorf("%s: %d bytes decoded to %d values (%v), want none", what, len(d.payload), len(d.vals), d.flat.order)
	}
}

// balanced checks that objects and lists are closed in order.
func balanced(vals []protocol.Value) error {
	depth := 0
	for i, v := range vals {
		switch v.Kind {
		case protocol.KindObject, protocol.KindList:
			depth++
		case protocol.KindEnd:
			if depth--; depth < 0 {
				return fmt.Errorf("value %d closes nothing", i)
			}
		case protocol.KindInvalid:
			return fmt.Errorf("value %d (%s) has no kind", i, v.Name)
		}
	}
	if depth != 0 {
		return fmt.Errorf("%d objects or lists left open", depth)
	}
	return nil
}
