// Package filter selects the decoder events a sink receives: by command (name,
// dotted name, code or group), stream, topic, client address, and errors
// only. One Filter can stand in front of any export.Sink (Wrap). The syntax
// is documented in docs/filters.md.
//
// Dimensions combine with AND, the values of one dimension with OR:
// `--command messages --stream orders --client 10.0.0.0/8` keeps the message
// commands on stream "orders" of clients in 10/8. Exchange events (pair,
// request, response) must pass every dimension given; connection events
// (open, close, gap, desync) pass unless a client filter excludes their
// connection.
package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export"
)

// Spec is a filter as the command line gives it: each slice holds flag
// values, and each value may itself list several, comma-separated. Empty
// slices do not filter.
type Spec struct {
	// Commands: a command name ("LoginUser", case-insensitive), a dotted
	// name ("user.login"), a code ("38"), a group ("auth", "messages", ...,
	// see protocol.Groups), "admin" (the commands that change users,
	// permissions, tokens, streams, topics, partitions, segments or groups)
	// or "unknown" (codes not in the protocol table). A leading "!"
	// excludes instead: "!ping", "!messages".
	Commands []string
	// Streams and Topics: identifiers as the client sends them, a name
	// ("orders") or a number ("3"). Ids and names the capture links (a
	// create, get or list answer) match each other.
	Streams, Topics []string
	// Clients: an IP address ("10.1.2.3", "::1"), an IP:port
	// ("10.1.2.3:50412", "[::1]:50412") or a CIDR prefix ("10.0.0.0/8").
	Clients []string
	// ErrorsOnly keeps only the exchanges that failed: a non-zero status
	// (with or without its request) or a request never answered.
	ErrorsOnly bool
}

// Filter decides which events pass. Build it with Parse. A nil *Filter
// passes everything.
//
// Match learns stream and topic ids from the events it sees, so it must see
// them in order from one goroutine at a time, as a Sink does. One Filter may
// wrap several sinks fed the same events: each event is judged once.
type Filter struct {
	all bool // no dimension set: Match is always true

	// Commands. The sets are bitsets over codes below protocol's table
	// bound, plus lists for larger numeric codes.
	hasInclude, hasExclude bool
	include, exclude       codeSet

	streams *idSet
	topics  *idSet
	names   *directory // nil unless streams or topics are filtered

	clientAddrs []netip.Addr
	clientPorts []netip.AddrPort
	clientNets  []netip.Prefix
	hasClients  bool

	errorsOnly bool

	// The last event judged and the verdict, so that one Filter wrapping
	// several sinks judges each event once.
	last   *decoder.Event
	lastOK bool
}

// Parse builds a Filter from a Spec. The error names the value it could not
// read.
func Parse(s Spec) (*Filter, error) {
	f := &Filter{errorsOnly: s.ErrorsOnly}
	for _, raw := range s.Commands {
		for _, v := range split(raw) {
			if err := f.addCommand(v); err != nil {
				return nil, err
			}
		}
	}
	if vals := splitAll(s.Streams); len(vals) > 0 {
		f.streams = newIDSet(vals)
	}
	if vals := splitAll(s.Topics); len(vals) > 0 {
		f.topics = newIDSet(vals)
	}
	if f.streams != nil || f.topics != nil {
		f.names = newDirectory()
	}
	for _, raw := range s.Clients {
		for _, v := range split(raw) {
			if err := f.addClient(v); err != nil {
				return nil, err
			}
		}
	}
	f.all = !f.hasInclude && !f.hasExclude && f.streams == nil && f.topics == nil &&
		!f.hasClients && !f.errorsOnly
	return f, nil
}

// MatchesAll tells whether the filter lets every event through.
func (f *Filter) MatchesAll() bool { return f == nil || f.all }

// split cuts one flag value at commas, trimming spaces and dropping empty
// parts.
func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func splitAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		out = append(out, split(s)...)
	}
	return out
}

// Pseudo-groups the command filter knows besides protocol's groups.
const (
	groupAdmin   = "admin"
	groupUnknown = "unknown"
)

// GroupNames lists every group a command filter accepts, in documentation
// order: protocol's groups, then "admin" and "unknown".
func GroupNames() []string {
	var out []string
	for _, g := range protocol.Groups() {
		out = append(out, g.String())
	}
	return append(out, groupAdmin, groupUnknown)
}

func (f *Filter) addCommand(v string) error {
	neg := strings.HasPrefix(v, "!")
	name := strings.TrimSpace(strings.TrimPrefix(v, "!"))
	set := &f.include
	if neg {
		set = &f.exclude
	}
	if err := set.add(name); err != nil {
		return err
	}
	if neg {
		f.hasExclude = true
	} else {
		f.hasInclude = true
	}
	return nil
}

func (f *Filter) addClient(v string) error {
	f.hasClients = true
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return fmt.Errorf("invalid client %q: not a CIDR prefix (want e.g. 10.0.0.0/8 or fd00::/8)", v)
		}
		f.clientNets = append(f.clientNets, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
		return nil
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		f.clientPorts = append(f.clientPorts, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		return nil
	}
	if a, err := netip.ParseAddr(v); err == nil {
		f.clientAddrs = append(f.clientAddrs, a.Unmap())
		return nil
	}
	return fmt.Errorf("invalid client %q: want an IP address (10.1.2.3, ::1), IP:port (10.1.2.3:50412, [::1]:50412) or CIDR prefix (10.0.0.0/8)", v)
}

// unmappedBits converts the length of an IPv4-mapped IPv6 prefix
// (::ffff:10.0.0.0/104) to its IPv4 length.
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return p.Bits() - 96
	}
	return p.Bits()
}

// Match tells whether ev passes. It allocates nothing, except the first time
// a stream or topic filter learns an id.
func (f *Filter) Match(ev *decoder.Event) bool {
	if f == nil || f.all {
		return true
	}
	if ev == f.last {
		// The same event again, from another sink the filter wraps: the
		// directory has learned (and forgotten) from it already.
		return f.lastOK
	}
	// Whatever the verdict, the directory learns from every OK answer:
	// ids learned from an event that is filtered out still name the
	// streams of the events that follow. An event is judged with what it
	// teaches (a CreateStream of "orders" answered with id 3 matches
	// --stream 3), except a delete, judged before it is forgotten.
	learn := f.names != nil && ev.Kind == decoder.EventPair && ev.Status == 0
	if learn {
		f.names.learn(ev)
	}
	ok := f.match(ev)
	if learn {
		f.names.forget(ev)
	}
	f.last, f.lastOK = ev, ok
	return ok
}

func (f *Filter) match(ev *decoder.Event) bool {
	if f.hasClients && !f.matchClient(ev.Client) {
		return false
	}
	switch ev.Kind {
	case decoder.EventPair, decoder.EventRequest, decoder.EventResponse:
	default:
		return true
	}
	if f.errorsOnly && !isError(ev) {
		return false
	}
	if f.hasInclude || f.hasExclude {
		if ev.Kind == decoder.EventResponse {
			return false // no request: the command is not known
		}
		known := ev.Cmd() != nil
		if f.hasInclude && !f.include.has(ev.Code, known) {
			return false
		}
		if f.hasExclude && f.exclude.has(ev.Code, known) {
			return false
		}
	}
	if f.streams != nil && !f.matchStream(ev.Summary.Stream) {
		return false
	}
	if f.topics != nil && !f.matchTopic(ev.Summary.Stream, ev.Summary.Topic) {
		return false
	}
	return true
}

// isError: the exchange failed as far as the capture can tell.
func isError(ev *decoder.Event) bool {
	switch ev.Kind {
	case decoder.EventRequest:
		return true // never answered
	case decoder.EventPair, decoder.EventResponse:
		return ev.Status != 0
	}
	return false
}

func (f *Filter) matchClient(c netip.AddrPort) bool {
	a := c.Addr().Unmap()
	for _, x := range f.clientAddrs {
		if x == a {
			return true
		}
	}
	for _, x := range f.clientPorts {
		if x.Addr() == a && x.Port() == c.Port() {
			return true
		}
	}
	for _, p := range f.clientNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (f *Filter) matchStream(stream string) bool {
	if stream == "" {
		return false
	}
	if f.streams.hasLiteral(stream) {
		return true
	}
	id, isID := parseID(stream)
	if isID {
		name, ok := f.names.streamName(id)
		return ok && f.streams.hasName(name)
	}
	id, ok := f.names.streamID(stream)
	return ok && f.streams.hasID(id)
}

func (f *Filter) matchTopic(stream, topic string) bool {
	if topic == "" {
		return false
	}
	if f.topics.hasLiteral(topic) {
		return true
	}
	sid, ok := f.names.resolveStream(stream)
	if !ok {
		return false
	}
	if tid, isID := parseID(topic); isID {
		name, ok := f.names.topicName(sid, tid)
		return ok && f.topics.hasName(name)
	}
	tid, ok := f.names.topicID(sid, topic)
	return ok && f.topics.hasID(tid)
}

// parseID reads an identifier that is a number. A name made of digits reads
// as a number too: the Summary does not keep the identifier's kind.
func parseID(s string) (uint32, bool) {
	if s == "" || len(s) > 10 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// codeSet is a set of commands: codes, plus "unknown" for codes the table
// does not describe.
type codeSet struct {
	low     [maxLowCode / 64]uint64
	high    []protocol.Code
	unknown bool
}

// maxLowCode bounds the bitset; every code of the table is below it.
const maxLowCode = 1024

func (s *codeSet) addCode(c protocol.Code) {
	if c < maxLowCode {
		s.low[c/64] |= 1 << (c % 64)
		return
	}
	s.high = append(s.high, c)
}

func (s *codeSet) add(v string) error {
	if v == "" {
		return fmt.Errorf("empty command after %q", "!")
	}
	if c, ok := protocol.LookupName(v); ok {
		s.addCode(c.Code)
		return nil
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid command code %q: want a number from 0 to %d", v, uint32(1<<32-1))
		}
		s.addCode(protocol.Code(n))
		return nil
	}
	lower := strings.ToLower(v)
	switch lower {
	case groupAdmin:
		for _, c := range protocol.Commands() {
			if c.Admin {
				s.addCode(c.Code)
			}
		}
		return nil
	case groupUnknown:
		s.unknown = true
		return nil
	}
	if g, ok := protocol.ParseGroup(v); ok {
		for _, c := range protocol.Commands() {
			if c.Group == g {
				s.addCode(c.Code)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown command %q: not a command name (LoginUser), dotted name (user.login), code (38) or group (%s); `iggytrace commands` lists the commands",
		v, strings.Join(GroupNames(), ", "))
}

func (s *codeSet) has(c protocol.Code, known bool) bool {
	if !known && s.unknown {
		return true
	}
	if c < maxLowCode {
		return s.low[c/64]&(1<<(c%64)) != 0
	}
	for _, h := range s.high {
		if h == c {
			return true
		}
	}
	return false
}

// idSet holds the stream or topic identifiers a filter wants: each value
// literally, and split into numbers and names for the directory.
type idSet struct {
	literal map[string]struct{}
	ids     map[uint32]struct{}
	names   map[string]struct{}
}

func newIDSet(vals []string) *idSet {
	s := &idSet{literal: map[string]struct{}{}, ids: map[uint32]struct{}{}, names: map[string]struct{}{}}
	for _, v := range vals {
		s.literal[v] = struct{}{}
		if id, ok := parseID(v); ok {
			s.ids[id] = struct{}{}
		} else {
			s.names[v] = struct{}{}
		}
	}
	return s
}

func (s *idSet) hasLiteral(v string) bool { _, ok := s.literal[v]; return ok }
func (s *idSet) hasID(id uint32) bool     { _, ok := s.ids[id]; return ok }
func (s *idSet) hasName(n string) bool    { _, ok := s.names[n]; return ok }

// Wrap returns a Sink that passes to sink only the events f matches. A nil
// or match-all f returns sink itself.
func Wrap(f *Filter, sink export.Sink) export.Sink {
	if f.MatchesAll() {
		return sink
	}
	return &filtered{f: f, sink: sink}
}

type filtered struct {
	f    *Filter
	sink export.Sink
}

func (w *filtered) Write(ev *decoder.Event) error {
	if !w.f.Match(ev) {
		return nil
	}
	return w.sink.Write(ev)
}

func (w *filtered) Flush() error { return w.sink.Flush() }
func (w *filtered) Close() error { return w.sink.Close() }
