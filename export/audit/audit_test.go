package audit_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export"
	"github.com/iggytrace/iggytrace/export/audit"
	"github.com/iggytrace/iggytrace/internal/workload"
)

var _ export.Sink = (*audit.Trail)(nil)

// run audits events, returning the JSON lines (parsed back) and the
// records the Handler got.
func run(t *testing.T, evs []*decoder.Event) (lines []audit.Record, handled []audit.Record, raw string) {
	t.Helper()
	var buf bytes.Buffer
	tr := audit.New(audit.Options{Writer: &buf, Handler: func(r audit.Record) { handled = append(handled, r) }})
	for _, ev := range evs {
		if err := tr.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var r audit.Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, r)
	}
	if len(lines) != len(handled) {
		t.Fatalf("%d JSON lines, %d records handled", len(lines), len(handled))
	}
	for i := range lines {
		a, _ := json.Marshal(lines[i])
		b, _ := json.Marshal(handled[i])
		if !bytes.Equal(a, b) {
			t.Errorf("record %d: JSON line %s, handled %s", i, a, b)
		}
	}
	return lines, handled, buf.String()
}

// audited returns the exchanges the trail must record, from the table.
func audited(evs []*decoder.Event) []*decoder.Event {
	var out []*decoder.Event
	for _, ev := range evs {
		if ev.Kind != decoder.EventPair && ev.Kind != decoder.EventRequest {
			continue
		}
		if c := ev.Cmd(); c != nil && (c.Admin || c.Auth) {
			out = append(out, ev)
		}
	}
	return out
}

func clients(evs []*decoder.Event) map[uint64]netip.AddrPort {
	out := map[uint64]netip.AddrPort{}
	for _, ev := range evs {
		if ev.Kind == decoder.EventOpen {
			out[ev.ConnID] = ev.Client
		}
	}
	return out
}

// checkRecords compares every record with the exchange it reports: one
// record per audited exchange, in order, with the exchange's command, time,
// connection, client, outcome and target. It returns the records by event.
func checkRecords(t *testing.T, evs []*decoder.Event, recs []audit.Record) {
	t.Helper()
	want := audited(evs)
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d (one per login, logout and admin exchange)", len(recs), len(want))
	}
	for i, ev := range want {
		r := recs[i]
		c := ev.Cmd()
		where := fmt.Sprintf("record %d (%s conn %d)", i, c.Name, ev.ConnID)
		if r.Command != c.Name || r.Dotted != c.Dotted || r.Code != uint32(c.Code) {
			t.Errorf("%s: command %s/%s/%d", where, r.Command, r.Dotted, r.Code)
		}
		if !r.Time.Equal(time.Unix(0, ev.ReqTime)) || r.Conn != ev.ConnID ||
			r.Client != ev.Client.String() || r.Server != ev.Server.String() {
			t.Errorf("%s: time %v conn %d client %s server %s", where, r.Time, r.Conn, r.Client, r.Server)
		}
		action := audit.ActionAdmin
		if c.Auth {
			action = audit.ActionLogin
			if c.Name == "LogoutUser" {
				action = audit.ActionLogout
			}
		}
		if r.Action != action {
			t.Errorf("%s: action %s, want %s", where, r.Action, action)
		}
		if ev.Kind == decoder.EventPair {
			if r.Outcome != ev.StatusName || r.Status == nil || *r.Status != ev.Status || r.Success != (ev.Status == 0) {
				t.Errorf("%s: outcome %s status %v success %v, want %s", where, r.Outcome, r.Status, r.Success, ev.StatusName)
			}
		} else if r.Outcome != audit.OutcomeNoResponse || r.Status != nil || r.Success {
			t.Errorf("%s: outcome %s, want %s", where, r.Outcome, audit.OutcomeNoResponse)
		}
		if action != audit.ActionAdmin {
			if r.Target != nil || r.Params != nil {
				t.Errorf("%s: a login or logout with a target or params", where)
			}
			continue
		}
		tg := r.Target
		if tg == nil {
			tg = &audit.Target{}
		}
		s := ev.Summary
		if tg.Stream != s.Stream || tg.Topic != s.Topic || tg.ConsumerGroup != s.ConsumerGroup || tg.User != s.Username ||
			(tg.Partition != nil) != s.HasPartition || (s.HasPartition && *tg.Partition != s.Partition) {
			t.Errorf("%s: target %+v, summary %+v", where, *tg, s)
		}
	}
}

// expectedUsers tells, from the workload's script, who acts on each
// audited exchange: the user of the connection's last successful login
// (the token belongs to root, who created it), anonymous after a logout.
func expectedUsers(evs []*decoder.Event, unknownUntilLogin map[uint64]bool) []string {
	user := map[uint64]string{}
	var out []string
	for _, ev := range audited(evs) {
		c := ev.Cmd()
		cur, ok := user[ev.ConnID]
		if !ok {
			cur = audit.UserAnonymous
			if unknownUntilLogin[ev.ConnID] {
				cur = audit.UserUnknown
			}
		}
		switch {
		case c.Name == "LoginUser":
			out = append(out, ev.Summary.Username)
			if ev.Status == 0 {
				user[ev.ConnID] = ev.Summary.Username
			} else {
				user[ev.ConnID] = cur
			}
		case c.Name == "LoginWithPersonalAccessToken":
			if ev.Status == 0 {
				out = append(out, workload.RootUsername)
				user[ev.ConnID] = workload.RootUsername
			} else {
				out = append(out, audit.UserUnknown)
				user[ev.ConnID] = cur
			}
		case c.Name == "LogoutUser":
			out = append(out, cur)
			if ev.Status == 0 {
				user[ev.ConnID] = audit.UserAnonymous
			}
		default:
			out = append(out, cur)
			user[ev.ConnID] = cur
		}
	}
	return out
}

func TestSession(t *testing.T) {
	evs := sessionEvents(t)
	recs, _, raw := run(t, evs)
	checkRecords(t, evs, recs)
	users := expectedUsers(evs, nil)
	for i, r := range recs {
		if r.User != users[i] {
			t.Errorf("record %d (%s conn %d): user %q, want %q", i, r.Command, r.Conn, r.User, users[i])
		}
	}
	cl := clients(evs)

	// Every login attempt: user, outcome, client.
	type login struct {
		conn    uint64
		command string
		user    string
		outcome string
		userID  int64 // -1: none
	}
	var logins []login
	for _, r := range recs {
		if r.Action == audit.ActionLogin {
			id := int64(-1)
			if r.UserID != nil {
				id = int64(*r.UserID)
			}
			logins = append(logins, login{r.Conn, r.Command, r.User, r.Outcome, id})
			if r.Client != cl[r.Conn].String() {
				t.Errorf("login on conn %d: client %s, want %s", r.Conn, r.Client, cl[r.Conn])
			}
		}
	}
	wantLogins := []login{
		{1, "LoginUser", workload.RootUsername, "InvalidCredentials", -1},
		{1, "LoginUser", workload.RootUsername, "OK", 0},
		{2, "LoginWithPersonalAccessToken", audit.UserUnknown, "InvalidPersonalAccessToken", -1},
		{2, "LoginUser", workload.UserName, "OK", 1},
		{2, "LoginWithPersonalAccessToken", workload.RootUsername, "OK", 0},
		{3, "LoginUser", workload.RootUsername, "OK", 0},
	}
	if fmt.Sprint(logins) != fmt.Sprint(wantLogins) {
		t.Errorf("logins:\n got %v\nwant %v", logins, wantLogins)
	}
	// Logouts and admin commands: counts and a few in full.
	count := map[string]int{}
	for _, r := range recs {
		count[r.Action]++
	}
	admin := 0
	for _, ev := range audited(evs) {
		if ev.Cmd().Admin {
			admin++
		}
	}
	if count[audit.ActionLogout] != 2 || count[audit.ActionAdmin] != admin || admin < 40 {
		t.Errorf("actions %v, want 2 logouts and %d admin", count, admin)
	}
	find := func(cmd string, conn uint64, outcome string) *audit.Record {
		for i := range recs {
			if recs[i].Command == cmd && recs[i].Conn == conn && recs[i].Outcome == outcome {
				return &recs[i]
			}
		}
		t.Fatalf("no %s record on conn %d with outcome %s", cmd, conn, outcome)
		return nil
	}
	r := find("CreateStream", 1, "OK")
	if r.User != workload.RootUsername || *r.UserID != 0 || r.Target.Stream != workload.FullStream || r.Target.ID == nil || *r.Target.ID != 0 {
		t.Errorf("CreateStream: %+v %+v", *r, *r.Target)
	}
	r = find("CreateStream", 2, "Unauthorized")
	if r.User != workload.UserName || *r.UserID != 1 || r.Success {
		t.Errorf("CreateStream denied: %+v", *r)
	}
	r = find("DeleteUser", 1, "OK")
	if r.Target.User != "1" || r.Target.UserName != workload.UserName {
		t.Errorf("DeleteUser: target %+v", *r.Target)
	}
	r = find("UpdateStream", 1, "OK")
	if r.Target.Stream != "1" || r.Params["name"] != workload.FullScratchRename {
		t.Errorf("UpdateStream: %+v params %v", *r.Target, r.Params)
	}
	r = find("DeleteSegments", 3, "OK")
	if r.User != workload.RootUsername || r.Target.Partition == nil || r.Target.Topic != "0" {
		t.Errorf("DeleteSegments: %+v", *r)
	}
	r = find("LogoutUser", 2, "OK")
	if r.User != workload.UserName {
		t.Errorf("logout on conn 2 by %q", r.User)
	}
	for _, r := range recs {
		if sev, n := r.Severity(); (sev == "INFO") != r.Success || (n == 9) != r.Success {
			t.Errorf("%s %s: severity %s %d", r.Command, r.Outcome, sev, n)
		}
	}
	if m := find("LoginUser", 1, "InvalidCredentials").Message(); m != "login iggy from "+cl[1].String()+": InvalidCredentials" {
		t.Errorf("Message: %q", m)
	}
	checkNoSecrets(t, evs, raw, recs)
}

// checkNoSecrets: no password or token of the workload, nor the raw token
// the server issued, appears in the output, and no field names a secret.
func checkNoSecrets(t *testing.T, evs []*decoder.Event, raw string, recs []audit.Record) {
	t.Helper()
	secrets := []string{workload.RootPassword, workload.UserPassword, workload.NewUserPassword,
		workload.WrongPassword, workload.BogusToken}
	if tok := issuedToken(t, evs); tok != "" {
		secrets = append(secrets, tok)
	}
	handled := fmt.Sprintf("%+v", recs)
	for _, s := range secrets {
		if strings.Contains(raw, s) || strings.Contains(handled, s) {
			t.Errorf("secret %q in the audit output", s)
		}
	}
	// No key names a secret, and so no length of one either.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				lk := strings.ToLower(k)
				if strings.Contains(lk, "password") || strings.Contains(lk, "secret") || lk == "token" || strings.HasSuffix(lk, "_token") {
					t.Errorf("key %q in the audit output", k)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		walk(m)
	}
}

// issuedToken digs the raw personal access token out of the capture's
// bytes: the decoder never keeps it, so the test reads the response frame
// of the successful CreatePersonalAccessToken itself ([status u32][len
// u32][token len u8][token]).
func issuedToken(t *testing.T, evs []*decoder.Event) string {
	var at int64
	var client netip.AddrPort
	for _, ev := range evs {
		if ev.Command == "CreatePersonalAccessToken" && ev.Kind == decoder.EventPair && ev.Status == 0 {
			at, client = ev.RespTime, ev.Client
		}
	}
	if at == 0 {
		t.Fatal("no CreatePersonalAccessToken answered OK in the session")
	}
	for _, seg := range sessionSegments(t) {
		if seg.Dir != decoder.ToClient || seg.Key.Client != client || seg.Time != at || len(seg.Data) < 9 {
			continue
		}
		n := int(seg.Data[8])
		if n > 0 && 9+n <= len(seg.Data) {
			return string(seg.Data[9 : 9+n])
		}
	}
	t.Fatal("the issued token's response segment not found")
	return ""
}

// TestMidStream: the capture attaches to connections after their login.
// Their admin commands act as "unknown", until a login seen on the
// connection names the user again.
func TestMidStream(t *testing.T) {
	segs := sessionSegments(t)
	full := decode(segs)
	cl := clients(full)
	// Cut every connection but the first before the response to its first
	// successful LoginUser: conn 3 (root) is then never seen logging in;
	// conn 2 loses its login as the restricted user, but logs out and in
	// again with a token later.
	cut := map[netip.AddrPort]int64{}
	for _, ev := range full {
		if ev.ConnID != 1 && ev.Command == "LoginUser" && ev.Status == 0 && cut[ev.Client] == 0 {
			cut[ev.Client] = ev.RespTime
		}
	}
	if len(cut) != 2 {
		t.Fatalf("cut points: %v", cut)
	}
	var kept []decoder.Segment
	for _, s := range segs {
		if at, ok := cut[s.Key.Client]; ok && s.Time <= at {
			continue
		}
		kept = append(kept, s)
	}
	evs := decode(kept)
	for _, ev := range evs {
		if ev.Kind == decoder.EventOpen && ev.ConnID != 1 && ev.Flags&decoder.FlagMidStream == 0 {
			t.Errorf("conn %d not seen mid-stream", ev.ConnID)
		}
	}
	recs, _, raw := run(t, evs)
	checkRecords(t, evs, recs)
	users := expectedUsers(evs, map[uint64]bool{2: true, 3: true})
	unknownAdmin := map[uint64]int{}
	for i, r := range recs {
		if r.User != users[i] {
			t.Errorf("record %d (%s conn %d): user %q, want %q", i, r.Command, r.Conn, r.User, users[i])
		}
		if r.Action == audit.ActionAdmin && r.User == audit.UserUnknown {
			unknownAdmin[r.Conn]++
			if r.UserID != nil {
				t.Errorf("unknown user with an id: %+v", r)
			}
		}
		if r.Client != cl[r.Conn].String() && r.Conn == 1 {
			t.Errorf("conn 1 client %s", r.Client)
		}
	}
	// conn 2: the denied CreateStream; conn 3: DeleteSegments, PurgeTopic,
	// PurgeStream, twice each.
	if unknownAdmin[1] != 0 || unknownAdmin[2] != 1 || unknownAdmin[3] != 6 {
		t.Errorf("admin records by an unknown user, per connection: %v", unknownAdmin)
	}
	var logouts []string
	for _, r := range recs {
		if r.Action == audit.ActionLogout {
			logouts = append(logouts, fmt.Sprintf("%d:%s", r.Conn, r.User))
		}
	}
	if strings.Join(logouts, " ") != "2:unknown 1:"+workload.RootUsername {
		t.Errorf("logouts: %v", logouts)
	}
	checkNoSecrets(t, full, raw, recs)
}

// TestLosses: a login without a response, or request bytes lost, make the
// connection's user unknown; a close forgets the connection; the cap on
// connections holds.
func TestLosses(t *testing.T) {
	login, _ := protocol.LookupName("LoginUser")
	del, _ := protocol.LookupName("DeleteStream")
	c := netip.MustParseAddrPort("10.0.0.7:5000")
	s := netip.MustParseAddrPort("10.0.0.1:8090")
	ok := func(conn uint64) *decoder.Event {
		return &decoder.Event{Kind: decoder.EventPair, ConnID: conn, Client: c, Server: s, Code: login.Code, Command: login.Name,
			StatusName: "OK", Summary: protocol.Summary{Username: "alice", UserID: 7, HasUserID: true}}
	}
	admin := func(conn uint64) *decoder.Event {
		return &decoder.Event{Kind: decoder.EventPair, ConnID: conn, Client: c, Server: s, Code: del.Code, Command: del.Name,
			StatusName: "OK", Summary: protocol.Summary{Stream: "9"}}
	}
	open := func(conn uint64) *decoder.Event {
		return &decoder.Event{Kind: decoder.EventOpen, ConnID: conn, Client: c, Server: s}
	}
	var got []string
	tr := audit.New(audit.Options{MaxConns: 2, Handler: func(r audit.Record) { got = append(got, fmt.Sprintf("%d:%s:%s", r.Conn, r.User, r.Outcome)) }})
	for _, ev := range []*decoder.Event{
		open(1), admin(1), ok(1), admin(1),
		{Kind: decoder.EventGap, ConnID: 1, Dir: decoder.ToClient, Bytes: 10}, admin(1), // a response lost: the user stays
		{Kind: decoder.EventGap, ConnID: 1, Dir: decoder.ToServer, Bytes: 10}, admin(1), // a request lost: unknown
		ok(1), admin(1),
		{Kind: decoder.EventRequest, ConnID: 1, Client: c, Server: s, Code: login.Code, Command: login.Name,
			Summary: protocol.Summary{Username: "bob"}, Flags: decoder.FlagNoResponse}, admin(1),
		open(2), ok(2), {Kind: decoder.EventClose, ConnID: 2}, admin(2), // closed: forgotten
		open(3), ok(3), open(4), ok(4), admin(4), // over the cap: untracked
	} {
		tr.Write(ev)
	}
	want := "1:anonymous:OK 1:alice:OK 1:alice:OK 1:alice:OK 1:unknown:OK 1:alice:OK 1:alice:OK 1:bob:no_response 1:unknown:OK " +
		"2:alice:OK 2:unknown:OK 3:alice:OK 4:alice:OK 4:unknown:OK"
	if strings.Join(got, " ") != want {
		t.Errorf("records:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if tr.Untracked() != 1 {
		t.Errorf("Untracked = %d, want 1", tr.Untracked())
	}
}

// TestWriterError: a failing writer stops the trail's output and its error
// is returned.
func TestWriterError(t *testing.T) {
	evs := sessionEvents(t)
	tr := audit.New(audit.Options{Writer: failWriter{}})
	var err error
	for _, ev := range evs {
		if err = tr.Write(ev); err != nil {
			break
		}
	}
	if err == nil {
		err = tr.Flush()
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want the writer's", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }
