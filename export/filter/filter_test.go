package filter_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/filter"
	"github.com/iggytrace/iggytrace/internal/sessiontest"
)

func isExchange(ev *decoder.Event) bool {
	return ev.Kind == decoder.EventPair || ev.Kind == decoder.EventRequest || ev.Kind == decoder.EventResponse
}

func mustParse(t *testing.T, s filter.Spec) *filter.Filter {
	t.Helper()
	f, err := filter.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%+v): %v", s, err)
	}
	return f
}

// check runs a fresh filter over the session and compares each verdict with
// want, and returns how many exchanges passed.
func check(t *testing.T, evs []*decoder.Event, s filter.Spec, want func(ev *decoder.Event) bool) int {
	t.Helper()
	f := mustParse(t, s)
	n, bad := 0, 0
	for i, ev := range evs {
		got := f.Match(ev)
		if got != want(ev) {
			bad++
			if bad <= 5 {
				t.Errorf("%+v: event %d (%s %s stream=%q topic=%q status=%s conn %d): Match = %v, want %v",
					s, i, ev.Kind, ev.Command, ev.Summary.Stream, ev.Summary.Topic, ev.StatusName, ev.ConnID, got, !got)
			}
		}
		if got && isExchange(ev) {
			n++
		}
	}
	return n
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		spec filter.Spec
		want string
	}{
		{filter.Spec{Commands: []string{"LoginUser", "FrobnicateStream"}}, `"FrobnicateStream"`},
		{filter.Spec{Commands: []string{"user.login,user.frob"}}, `"user.frob"`},
		{filter.Spec{Commands: []string{"99999999999"}}, `"99999999999"`},
		{filter.Spec{Commands: []string{"!"}}, `empty command`},
		{filter.Spec{Commands: []string{"!nosuchgroup"}}, `"nosuchgroup"`},
		{filter.Spec{Clients: []string{"10.0.0.1", "host.example"}}, `"host.example"`},
		{filter.Spec{Clients: []string{"10.0.0.0/33"}}, `"10.0.0.0/33"`},
		{filter.Spec{Clients: []string{"10.0.0.1:99999"}}, `"10.0.0.1:99999"`},
	} {
		_, err := filter.Parse(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%+v) = %v, want an error naming %s", tc.spec, err, tc.want)
		}
	}
	// The error for an unknown command lists the groups, derived from the table.
	_, err := filter.Parse(filter.Spec{Commands: []string{"bogus"}})
	for _, g := range protocol.Groups() {
		if !strings.Contains(err.Error(), g.String()) {
			t.Errorf("error %q does not list group %s", err, g)
		}
	}
}

func TestMatchAll(t *testing.T) {
	evs := sessionEvents(t)
	var nilF *filter.Filter
	f := mustParse(t, filter.Spec{Commands: []string{" , "}})
	if !f.MatchesAll() || !nilF.MatchesAll() {
		t.Fatal("an empty spec does not match everything")
	}
	for _, ev := range evs {
		if !f.Match(ev) || !nilF.Match(ev) {
			t.Fatalf("empty filter rejects %s", ev.Kind)
		}
	}
}

func TestCommands(t *testing.T) {
	evs := sessionEvents(t)
	cmdIs := func(pred func(c *protocol.Command) bool) func(ev *decoder.Event) bool {
		return func(ev *decoder.Event) bool {
			if !isExchange(ev) {
				return true
			}
			return ev.Kind != decoder.EventResponse && ev.Cmd() != nil && pred(ev.Cmd())
		}
	}
	named := func(names ...string) func(c *protocol.Command) bool {
		return func(c *protocol.Command) bool {
			for _, n := range names {
				if c.Name == n {
					return true
				}
			}
			return false
		}
	}
	// The same commands, written every way.
	for _, spelling := range [][]string{
		{"LoginUser", "LogoutUser"},
		{"loginuser,logoutuser"},
		{"user.login", "user.logout"},
		{"38", "39"},
	} {
		n := check(t, evs, filter.Spec{Commands: spelling}, cmdIs(named("LoginUser", "LogoutUser")))
		if n != 6 { // 4 LoginUser, 2 LogoutUser in the session
			t.Errorf("%v: %d exchanges, want 6", spelling, n)
		}
	}
	// Every group, and the admin pseudo-group, as the table defines them.
	for _, g := range protocol.Groups() {
		check(t, evs, filter.Spec{Commands: []string{g.String()}},
			cmdIs(func(c *protocol.Command) bool { return c.Group == g }))
		check(t, evs, filter.Spec{Commands: []string{strings.ToUpper(strings.ReplaceAll(g.String(), "_", "-"))}},
			cmdIs(func(c *protocol.Command) bool { return c.Group == g }))
	}
	if n := check(t, evs, filter.Spec{Commands: []string{"admin"}}, cmdIs(func(c *protocol.Command) bool { return c.Admin })); n < 40 {
		t.Errorf("admin: only %d exchanges", n)
	}
	// Codes outside the table: the session sends code 999.
	unknown := func(ev *decoder.Event) bool {
		return !isExchange(ev) || (ev.Kind != decoder.EventResponse && ev.Cmd() == nil)
	}
	for _, spec := range [][]string{{"unknown"}, {"999"}} {
		if n := check(t, evs, filter.Spec{Commands: spec}, unknown); n != 1 {
			t.Errorf("%v: %d exchanges, want 1", spec, n)
		}
	}
	// Exclusion, alone and with an inclusion.
	check(t, evs, filter.Spec{Commands: []string{"!ping", "!messages"}}, func(ev *decoder.Event) bool {
		if !isExchange(ev) {
			return true
		}
		c := ev.Cmd()
		return ev.Kind != decoder.EventResponse && (c == nil || (c.Name != "Ping" && c.Group != protocol.GroupMessages))
	})
	check(t, evs, filter.Spec{Commands: []string{"streams", "!stream.get"}},
		cmdIs(func(c *protocol.Command) bool { return c.Group == protocol.GroupStreams && c.Name != "GetStream" }))
}

func TestStreamsAndTopics(t *testing.T) {
	evs := sessionEvents(t)
	// The session creates stream "iggytrace-orders" (id 0) and addresses
	// it by id afterwards; "iggytrace-scratch" (id 1) is renamed
	// "iggytrace-scratch-2", purged and deleted by id.
	in := func(v string, set ...string) bool {
		for _, s := range set {
			if v == s {
				return true
			}
		}
		return false
	}
	n := check(t, evs, filter.Spec{Streams: []string{"iggytrace-orders"}}, func(ev *decoder.Event) bool {
		return !isExchange(ev) || in(ev.Summary.Stream, "0", "iggytrace-orders")
	})
	if n < 50 {
		t.Errorf("stream iggytrace-orders: %d exchanges", n)
	}
	// By id, the name matches too.
	if m := check(t, evs, filter.Spec{Streams: []string{"0"}}, func(ev *decoder.Event) bool {
		return !isExchange(ev) || in(ev.Summary.Stream, "0", "iggytrace-orders")
	}); m != n {
		t.Errorf("stream 0: %d exchanges, stream iggytrace-orders: %d", m, n)
	}
	// Renamed: before the rename the old name matches stream 1, after it
	// the new one. The rename itself is judged with the old name.
	// After the stream is deleted, id 1 names no stream any more.
	var renamed, deleted bool
	var oldName, newName []string
	for _, ev := range evs {
		if !isExchange(ev) || deleted {
			continue
		}
		if ev.Command == "UpdateStream" && ev.Status == 0 && ev.Summary.Stream == "1" {
			renamed = true
		}
		if ev.Summary.Stream == "1" || strings.HasPrefix(ev.Summary.Stream, "iggytrace-scratch") {
			if renamed {
				newName = append(newName, ev.Command)
			} else {
				oldName = append(oldName, ev.Command)
			}
		}
		if ev.Command == "DeleteStream" && ev.Status == 0 && ev.Summary.Stream == "1" {
			deleted = true
		}
	}
	count := func(spec filter.Spec) (got []string) {
		f := mustParse(t, spec)
		for _, ev := range evs {
			if isExchange(ev) && f.Match(ev) {
				got = append(got, ev.Command)
			}
		}
		return got
	}
	if got := count(filter.Spec{Streams: []string{"iggytrace-scratch"}}); strings.Join(got, ",") != strings.Join(oldName, ",") {
		t.Errorf("stream iggytrace-scratch: %v, want %v", got, oldName)
	}
	if got := count(filter.Spec{Streams: []string{"iggytrace-scratch-2"}}); strings.Join(got, ",") != strings.Join(newName, ",") {
		t.Errorf("stream iggytrace-scratch-2: %v, want %v", got, newName)
	}
	if !slicesContain(newName, "DeleteStream") || !slicesContain(newName, "PurgeStream") {
		t.Errorf("commands on the renamed stream: %v", newName)
	}

	// Topic "events" is id 0 of stream 0, addressed by id or name.
	n = check(t, evs, filter.Spec{Topics: []string{"events"}}, func(ev *decoder.Event) bool {
		if !isExchange(ev) {
			return true
		}
		onOrders := in(ev.Summary.Stream, "0", "iggytrace-orders")
		return ev.Summary.Topic == "events" || (onOrders && ev.Summary.Topic == "0")
	})
	if n < 30 {
		t.Errorf("topic events: %d exchanges", n)
	}
	// A stream and a topic together: both must match.
	check(t, evs, filter.Spec{Streams: []string{"iggytrace-orders"}, Topics: []string{"events"}, Commands: []string{"SendMessages"}},
		func(ev *decoder.Event) bool {
			if !isExchange(ev) {
				return true
			}
			return ev.Command == "SendMessages" && ev.Kind != decoder.EventResponse &&
				in(ev.Summary.Stream, "0", "iggytrace-orders") && in(ev.Summary.Topic, "0", "events")
		})
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestClients(t *testing.T) {
	evs := sessionEvents(t)
	conn2 := netip.AddrPort{}
	for _, ev := range evs {
		if ev.ConnID == 2 {
			conn2 = ev.Client
			break
		}
	}
	for _, spec := range []string{conn2.String(), "[::ffff:" + conn2.Addr().String() + "]:" + itoa(conn2.Port())} {
		n := check(t, evs, filter.Spec{Clients: []string{spec}}, func(ev *decoder.Event) bool { return ev.ConnID == 2 })
		if n != 16 {
			t.Errorf("client %s: %d exchanges, want 16", spec, n)
		}
	}
	all := func(*decoder.Event) bool { return true }
	none := func(*decoder.Event) bool { return false }
	check(t, evs, filter.Spec{Clients: []string{"127.0.0.1"}}, all)
	check(t, evs, filter.Spec{Clients: []string{"127.0.0.0/8"}}, all)
	check(t, evs, filter.Spec{Clients: []string{"::ffff:127.0.0.0/104"}}, all)
	check(t, evs, filter.Spec{Clients: []string{"10.0.0.0/8,::1"}}, none)
	check(t, evs, filter.Spec{Clients: []string{"127.0.0.1:1"}}, none)
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}

func TestErrorsOnly(t *testing.T) {
	evs := sessionEvents(t)
	n := check(t, evs, filter.Spec{ErrorsOnly: true}, func(ev *decoder.Event) bool {
		switch ev.Kind {
		case decoder.EventPair, decoder.EventResponse:
			return ev.Status != 0
		case decoder.EventRequest:
			return true
		}
		return true // connection events pass
	})
	if n < 30 {
		t.Errorf("errors only: %d exchanges", n)
	}
	// With a command filter: the failed logins.
	if n := check(t, evs, filter.Spec{ErrorsOnly: true, Commands: []string{"auth"}}, func(ev *decoder.Event) bool {
		return !isExchange(ev) || (ev.Cmd() != nil && ev.Cmd().Auth && ev.Status != 0)
	}); n != 2 { // a wrong password and a bogus token
		t.Errorf("failed logins: %d, want 2", n)
	}
}

// Lone events the session does not have: an unanswered request is an
// error; a lone response has no command.
func TestLoneEvents(t *testing.T) {
	login, _ := protocol.LookupName("LoginUser")
	req := &decoder.Event{Kind: decoder.EventRequest, Code: login.Code, Command: login.Name, Flags: decoder.FlagNoResponse}
	okResp := &decoder.Event{Kind: decoder.EventResponse, Flags: decoder.FlagNoRequest}
	errResp := &decoder.Event{Kind: decoder.EventResponse, Status: 42, StatusName: "InvalidCredentials"}
	errs := mustParse(t, filter.Spec{ErrorsOnly: true})
	if !errs.Match(req) || errs.Match(okResp) || !errs.Match(errResp) {
		t.Error("errors only: want unanswered request and failed lone response, not an OK lone response")
	}
	cmds := mustParse(t, filter.Spec{Commands: []string{"!ping"}})
	if cmds.Match(errResp) {
		t.Error("a command filter passes a lone response")
	}
	gap := &decoder.Event{Kind: decoder.EventGap, Client: netip.MustParseAddrPort("10.0.0.1:5")}
	if !mustParse(t, filter.Spec{Streams: []string{"x"}, Commands: []string{"ping"}, ErrorsOnly: true}).Match(gap) {
		t.Error("a gap is filtered by a non-client dimension")
	}
	if mustParse(t, filter.Spec{Clients: []string{"10.0.0.2"}}).Match(gap) {
		t.Error("a gap of another client passes")
	}
}

func TestMatchAllocs(t *testing.T) {
	evs := sessionEvents(t)
	// Without streams or topics the filter keeps no state: a whole pass
	// over the session allocates nothing.
	f := mustParse(t, filter.Spec{
		Commands: []string{"messages", "admin", "!ping", "70000"},
		Clients:  []string{"127.0.0.0/8", "::1", "127.0.0.1:1"}, ErrorsOnly: true,
	})
	if allocs := testing.AllocsPerRun(20, func() {
		for _, ev := range evs {
			f.Match(ev)
		}
	}); allocs != 0 {
		t.Errorf("Match allocates %.1f times per pass over the session", allocs)
	}
	// With them, Match allocates only when an answer teaches something
	// new (a replay of the whole session re-learns the names streams had
	// before their renames): once an event's lesson is known, matching it
	// again allocates nothing.
	f = mustParse(t, filter.Spec{
		Commands: []string{"messages", "admin", "!ping"}, Streams: []string{"iggytrace-orders", "7"},
		Topics: []string{"events"}, Clients: []string{"127.0.0.0/8"},
	})
	other := &decoder.Event{Kind: decoder.EventGap} // defeats the cache of the last verdict
	for i, ev := range evs {
		f.Match(ev)
		if allocs := testing.AllocsPerRun(5, func() { f.Match(other); f.Match(ev) }); allocs != 0 {
			if c := ev.Cmd(); c != nil && c.Admin && ev.Status == 0 && strings.HasPrefix(c.Name, "Delete") {
				continue // a delete forgets, and the replay learns again
			}
			t.Errorf("event %d (%s %s): Match allocates %.1f times", i, ev.Kind, ev.Command, allocs)
		}
	}
}

type countSink struct{ writes, flushes, closes int }

func (c *countSink) Write(*decoder.Event) error { c.writes++; return nil }
func (c *countSink) Flush() error               { c.flushes++; return nil }
func (c *countSink) Close() error               { c.closes++; return nil }

func TestWrap(t *testing.T) {
	evs := sessionEvents(t)
	inner := &countSink{}
	if filter.Wrap(mustParse(t, filter.Spec{}), inner) != inner {
		t.Error("Wrap with a match-all filter does not return the sink itself")
	}
	if filter.Wrap(nil, inner) != inner {
		t.Error("Wrap with a nil filter does not return the sink itself")
	}
	f := mustParse(t, filter.Spec{Commands: []string{"LoginUser"}})
	s := filter.Wrap(f, inner)
	for _, ev := range evs {
		if err := s.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	s.Close()
	conns := 0
	for _, ev := range evs {
		if !isExchange(ev) {
			conns++
		}
	}
	if inner.writes != 4+conns || inner.flushes != 1 || inner.closes != 1 {
		t.Errorf("inner sink: %+v, want %d writes, 1 flush, 1 close", *inner, 4+conns)
	}

	// One filter in front of two sinks fed the same events: both get the
	// same events, also those judged with what a delete then forgets.
	f = mustParse(t, filter.Spec{Streams: []string{"iggytrace-scratch-2"}})
	a, b := &countSink{}, &countSink{}
	sa, sb := filter.Wrap(f, a), filter.Wrap(f, b)
	single := mustParse(t, filter.Spec{Streams: []string{"iggytrace-scratch-2"}})
	want := 0
	for _, ev := range evs {
		sa.Write(ev)
		sb.Write(ev)
		if single.Match(ev) {
			want++
		}
	}
	if a.writes != want || b.writes != want {
		t.Errorf("two sinks behind one filter got %d and %d events, want %d", a.writes, b.writes, want)
	}
}

func BenchmarkMatch(b *testing.B) {
	evs := sessionEvents(b)
	f, err := filter.Parse(filter.Spec{Commands: []string{"messages", "!ping"}, Streams: []string{"iggytrace-orders"},
		Clients: []string{"127.0.0.0/8"}, ErrorsOnly: false})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Match(evs[i%len(evs)])
	}
}

// sessionEvents decodes the real capture of a full SDK session.
func sessionEvents(t testing.TB) []*decoder.Event {
	evs, _ := sessiontest.Events(t, nil)
	return evs
}
