package otlp_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/export/audit"
	"github.com/iggytrace/iggytrace/export/otlp"
	"github.com/iggytrace/iggytrace/internal/otelcol"
	"github.com/iggytrace/iggytrace/internal/sessiontest"
	"github.com/iggytrace/iggytrace/internal/workload"
)

// eventWriter is what the tracker's events go to: an export.Sink's Write.
type eventWriter interface{ Write(*decoder.Event) error }

// feed runs segs through a Tracker whose events go to every sink in turn,
// as the CLI's pipeline does, and returns the events.
func feed(t testing.TB, segs []decoder.Segment, sinks ...eventWriter) []*decoder.Event {
	t.Helper()
	var evs []*decoder.Event
	tr := decoder.NewTracker(decoder.Config{}, func(ev *decoder.Event) {
		evs = append(evs, ev)
		for _, s := range sinks {
			if err := s.Write(ev); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
	})
	for i := range segs {
		tr.Feed(&segs[i])
	}
	tr.Flush()
	return evs
}

// auditLines parses the trail's JSON lines back, numbers as json.Number.
func auditLines(t testing.TB, b []byte) []audit.Record {
	t.Helper()
	var out []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r audit.Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// TestCollectorAudit runs the real session through the tracker into the
// OTLP sink and the audit trail, whose Handler is the sink's Audit, as the
// CLI does with --audit and --otlp-endpoint; a real Collector, over gRPC
// and over HTTP, must receive one audit log record per JSON line of the
// trail, on the audit scope, with its severity, time, body and attributes,
// besides the event log records, and no secret.
func TestCollectorAudit(t *testing.T) {
	segs := sessionSegments(t)
	col := otelcol.Start(t)
	eachProtocol(t, col, otlp.Config{
		MetricInterval: time.Hour,
		CloseTimeout:   20 * time.Second,
	}, func(t *testing.T, sink *otlp.Sink, logs *logRecorder, before otelcol.Received) {
		var trailOut bytes.Buffer
		trail := audit.New(audit.Options{Writer: &trailOut, Handler: sink.Audit})
		evs := feed(t, segs, sink, trail) // the CLI's order: OTLP, then audit
		if err := trail.Close(); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		lines := auditLines(t, trailOut.Bytes())
		if len(lines) < 10 {
			t.Fatalf("only %d audit records from the session", len(lines))
		}
		n := uint64(len(lines))
		st := sink.Stats()
		t.Logf("%d events, %d audit records; stats %+v", len(evs), n, st)
		if st.AuditRecords != n || st.AuditExported != n || st.AuditDropped != 0 ||
			st.LogsExported != uint64(len(evs))+n || st.Dropped() != 0 || st.ExportFailures != 0 {
			t.Errorf("Stats = %+v, want %d audit and %d event log records exported, nothing dropped", st, n, len(evs))
		}
		if w := logs.count(slog.LevelWarn); w != 0 {
			t.Errorf("%d warnings logged:\n%s", w, logs)
		}

		got := col.WaitFor(30*time.Second, func(r otelcol.Received) bool {
			return len(r.LogRecords()) >= len(before.LogRecords())+len(evs)+len(lines)
		})
		rcv := otelcol.Received{Logs: got.Logs[len(before.Logs):], Raw: got.Raw[len(before.Raw):]}
		var auditRecs, eventRecs []otelcol.LogRecord
		for _, r := range rcv.LogRecords() {
			switch r.Scope.Scope.GetName() {
			case otlp.AuditScopeName:
				auditRecs = append(auditRecs, r)
			case otlp.ScopeName:
				eventRecs = append(eventRecs, r)
			default:
				t.Errorf("log record of scope %q", r.Scope.Scope.GetName())
			}
		}
		if len(eventRecs) != len(evs) {
			t.Errorf("%d event log records, want %d", len(eventRecs), len(evs))
		}
		for _, r := range eventRecs {
			if r.EventName == otlp.AuditEventName {
				t.Errorf("event log record %q has the audit event name", r.Body.GetStringValue())
			}
		}
		checkAuditLogs(t, lines, auditRecs)
		checkNoSecrets(t, rcv.Raw)
		checkAuditNoSecrets(t, evs, segs, auditRecs)
	})
}

type auditKey struct {
	conn uint64
	t    int64
}

func checkAuditLogs(t *testing.T, lines []audit.Record, recs []otelcol.LogRecord) {
	t.Helper()
	if len(recs) != len(lines) {
		t.Errorf("%d audit log records received, want %d, one per audit record", len(recs), len(lines))
	}
	byKey := map[auditKey]otelcol.LogRecord{}
	for _, r := range recs {
		k := auditKey{uint64(attrMap(r.Attributes)["iggy.connection.id"].(int64)), int64(r.TimeUnixNano)}
		if _, dup := byKey[k]; dup {
			t.Errorf("two audit log records for %+v", k)
		}
		byKey[k] = r
	}
	var failedLogin, okLogin, admin, withParams, withTarget, unauthorized bool
	sev := map[string]int{}
	for i := range lines {
		line := &lines[i]
		k := auditKey{line.Conn, line.Time.UnixNano()}
		r, ok := byKey[k]
		if !ok {
			t.Errorf("no audit log record for %s", line.Message())
			continue
		}
		where := fmt.Sprintf("audit log %q", r.Body.GetStringValue())
		if r.Body.GetStringValue() != line.Message() {
			t.Errorf("%s: body, want %q", where, line.Message())
		}
		text, num := line.Severity()
		if int(r.SeverityNumber) != num || r.SeverityText != text {
			t.Errorf("%s: severity %v %q, want %d %q", where, r.SeverityNumber, r.SeverityText, num, text)
		}
		sev[text]++
		if r.EventName != otlp.AuditEventName {
			t.Errorf("%s: event name %q", where, r.EventName)
		}
		if r.ObservedTimeUnixNano <= r.TimeUnixNano {
			t.Errorf("%s: observed time %d, time %d", where, r.ObservedTimeUnixNano, r.TimeUnixNano)
		}
		if len(r.TraceId) != 0 || len(r.SpanId) != 0 {
			t.Errorf("%s: has a trace context", where)
		}
		if r.Scope.SchemaUrl != "https://opentelemetry.io/schemas/1.43.0" {
			t.Errorf("%s: schema URL %q", where, r.Scope.SchemaUrl)
		}
		if res := attrMap(r.Resource.Resource.Attributes); res["service.name"] != otlp.ServiceName {
			t.Errorf("%s: resource %v", where, res)
		}
		got := attrMap(r.Attributes)
		want := wantAuditAttrs(t, line)
		for key, w := range want {
			if g, ok := got[key]; !ok || fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("%s: %s = %v, want %v", where, key, g, w)
			}
		}
		for key, g := range got {
			if _, ok := want[key]; !ok {
				t.Errorf("%s: unexpected attribute %s = %v", where, key, g)
			}
		}

		switch {
		case line.Action == audit.ActionLogin && line.Outcome == "InvalidCredentials":
			failedLogin = true
			if r.SeverityText != "WARN" || r.SeverityNumber != 13 || got["error.type"] != "InvalidCredentials" {
				t.Errorf("%s: a failed login is not WARN with error.type: %v %q %v", where, r.SeverityNumber, r.SeverityText, got["error.type"])
			}
		case line.Action == audit.ActionLogin && line.Success:
			okLogin = true
			if r.SeverityText != "INFO" || r.SeverityNumber != 9 || got["iggy.audit.user_id"] == nil {
				t.Errorf("%s: a successful login is not INFO with a user id: %v %q", where, r.SeverityNumber, r.SeverityText)
			}
		case line.Action == audit.ActionAdmin:
			admin = true
			unauthorized = unauthorized || line.Outcome == "Unauthorized"
		}
		withParams = withParams || len(line.Params) > 0
		withTarget = withTarget || line.Target != nil
	}
	t.Logf("audit log records by severity: %v", sev)
	if !failedLogin || !okLogin || !admin || !unauthorized || !withParams || !withTarget {
		t.Errorf("the session lacks a case: failed login %v, login %v, admin %v, unauthorized %v, params %v, target %v",
			failedLogin, okLogin, admin, unauthorized, withParams, withTarget)
	}
}

// wantAuditAttrs is what docs/otlp.md says an audit record's log record
// carries, from the trail's JSON line.
func wantAuditAttrs(t *testing.T, r *audit.Record) map[string]any {
	t.Helper()
	client, err := netip.ParseAddrPort(r.Client)
	if err != nil {
		t.Fatalf("client %q: %v", r.Client, err)
	}
	server, err := netip.ParseAddrPort(r.Server)
	if err != nil {
		t.Fatalf("server %q: %v", r.Server, err)
	}
	netType := "ipv6"
	if client.Addr().Unmap().Is4() {
		netType = "ipv4"
	}
	w := map[string]any{
		"messaging.system":         "iggy",
		"iggy.audit.action":        r.Action,
		"iggy.command.name":        r.Command,
		"iggy.command.code":        int64(r.Code),
		"messaging.operation.name": r.Dotted,
		"iggy.connection.id":       int64(r.Conn),
		"network.transport":        "tcp",
		"network.type":             netType,
		"client.address":           client.Addr().Unmap().String(),
		"client.port":              int64(client.Port()),
		"server.address":           server.Addr().Unmap().String(),
		"server.port":              int64(server.Port()),
		"iggy.audit.user":          r.User,
		"iggy.audit.outcome":       r.Outcome,
		"iggy.audit.success":       r.Success,
	}
	if r.UserID != nil {
		w["iggy.audit.user_id"] = int64(*r.UserID)
	}
	if r.Status != nil {
		w["iggy.status.code"] = int64(*r.Status)
	}
	if !r.Success {
		w["error.type"] = r.Outcome
	}
	if len(r.Flags) > 0 {
		w["iggy.flags"] = r.Flags
	}
	if tg := r.Target; tg != nil {
		for k, v := range map[string]string{"stream": tg.Stream, "topic": tg.Topic, "consumer_group": tg.ConsumerGroup, "user": tg.User, "user_name": tg.UserName} {
			if v != "" {
				w["iggy.audit.target."+k] = v
			}
		}
		if tg.Partition != nil {
			w["iggy.audit.target.partition"] = int64(*tg.Partition)
		}
		if tg.ID != nil {
			w["iggy.audit.target.id"] = int64(*tg.ID)
		}
	}
	// Every param of the trail: the trail holds no secret (export/audit's
	// tests), so the exporter's own filter must leave them all.
	for k, v := range r.Params {
		w["iggy.audit.params."+k] = v // json.Number, string or bool: printed alike
	}
	return w
}

// checkAuditNoSecrets: no audit log record holds a password or token of
// the session (the issued one included), in any byte, nor an attribute
// named like one.
func checkAuditNoSecrets(t *testing.T, evs []*decoder.Event, segs []decoder.Segment, recs []otelcol.LogRecord) {
	t.Helper()
	secrets := append(workload.Secrets(nil), issuedToken(t, evs, segs))
	for _, r := range recs {
		b, err := proto.Marshal(r.LogRecord)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("secret %q in audit log record %q", s, r.Body.GetStringValue())
			}
		}
		for _, kv := range r.Attributes {
			k := strings.ToLower(kv.Key)
			if strings.Contains(k, "password") || strings.Contains(k, "token") || strings.Contains(k, "secret") {
				t.Errorf("attribute %q in audit log record %q", kv.Key, r.Body.GetStringValue())
			}
		}
	}
}

// issuedToken digs the raw personal access token the server issued out of
// the capture's bytes (the decoder never keeps it): the response of the
// successful CreatePersonalAccessToken, [status u32][len u32][len u8][token].
func issuedToken(t *testing.T, evs []*decoder.Event, segs []decoder.Segment) string {
	t.Helper()
	var at int64
	var client netip.AddrPort
	for _, ev := range evs {
		if ev.Command == "CreatePersonalAccessToken" && ev.Kind == decoder.EventPair && ev.Status == 0 {
			at, client = ev.RespTime, ev.Client
		}
	}
	for _, seg := range segs {
		if at == 0 || seg.Dir != decoder.ToClient || seg.Key.Client != client || seg.Time != at || len(seg.Data) < 9 {
			continue
		}
		if n := int(seg.Data[8]); n > 0 && 9+n <= len(seg.Data) {
			return string(seg.Data[9 : 9+n])
		}
	}
	t.Fatal("the issued token is not in the capture")
	return ""
}

// TestAuditNeverBlocks: with an endpoint where nothing listens and a tiny
// queue, Audit stays fast; every audit record is counted as dropped (in
// AuditDropped and LogsDropped), after Close too.
func TestAuditNeverBlocks(t *testing.T) {
	segs := sessionSegments(t)
	var recs []audit.Record
	trail := audit.New(audit.Options{Handler: func(r audit.Record) { recs = append(recs, r) }})
	feed(t, segs, trail)
	if len(recs) == 0 {
		t.Fatal("no audit records")
	}
	sink, err := otlp.New(otlp.Config{
		Endpoint:        "http://" + closedPort(t),
		Protocol:        otlp.ProtocolGRPC,
		QueueSize:       4,
		BatchSize:       2,
		Timeout:         200 * time.Millisecond,
		RetryMaxElapsed: 300 * time.Millisecond,
		MetricInterval:  time.Hour,
		CloseTimeout:    time.Second,
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 200
	var slow int
	var longest time.Duration
	for range rounds {
		for _, r := range recs {
			start := time.Now()
			sink.Audit(r)
			d := time.Since(start)
			longest = max(longest, d)
			if d > slowWrite {
				slow++
			}
		}
	}
	if slow > maxSlow {
		t.Errorf("%d Audit calls over %v (longest %v)", slow, slowWrite, longest)
	}
	if err := sink.Close(); err != nil {
		t.Logf("Close: %v", err)
	}
	sink.Audit(recs[0]) // after Close: dropped, no panic
	n := uint64(rounds*len(recs) + 1)
	st := sink.Stats()
	t.Logf("%d Audit calls, longest %v; stats %+v", n, longest, st)
	if st.AuditRecords != n || st.AuditExported != 0 || st.AuditDropped != n || st.LogsDropped != n || st.LogsExported != 0 || st.Dropped() != n {
		t.Errorf("Stats = %+v, want all %d audit records dropped", st, n)
	}
}

// TestAuditLogsOff: with the logs signal off, Audit exports nothing and
// drops nothing.
func TestAuditLogsOff(t *testing.T) {
	sink, err := otlp.New(otlp.Config{
		Endpoint: "http://" + closedPort(t), Protocol: otlp.ProtocolHTTP,
		NoLogs: true, MetricInterval: time.Hour, CloseTimeout: time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	sink.Audit(audit.Record{Action: audit.ActionLogin, User: "iggy", Outcome: "OK", Success: true})
	sink.Close()
	if st := sink.Stats(); st.AuditRecords != 1 || st.AuditExported != 0 || st.AuditDropped != 0 || st.Dropped() != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestCollectorInvalidUTF8: names from the wire may be any bytes, and OTLP
// fails a whole export on one string that is not UTF-8. An event naming an
// invalid stream and an audit record by an invalid user name must not cost
// the spans and log records batched with them (audit records included):
// everything arrives, the bad bytes as U+FFFD.
func TestCollectorInvalidUTF8(t *testing.T) {
	evs, _ := sessionEvents(t)
	col := otelcol.Start(t)
	eachProtocol(t, col, otlp.Config{
		MetricInterval: time.Hour, RetryMaxElapsed: -1, CloseTimeout: 20 * time.Second,
	}, func(t *testing.T, sink *otlp.Sink, logs *logRecorder, before otelcol.Received) {
		var bad decoder.Event
		for _, ev := range evs {
			if ev.Kind == decoder.EventPair && ev.Summary.Stream != "" {
				bad = *ev
				break
			}
		}
		bad.Summary.Stream = "bad\xffstream"
		bad.Summary.Username = "bad\xfe"
		sink.Write(&bad)
		sink.Audit(audit.Record{Time: time.Unix(1, 0), Action: audit.ActionLogin, Command: "LoginUser", Dotted: "user.login",
			Code: 38, Conn: 99, Client: "127.0.0.1:1", Server: "127.0.0.1:2", User: "bad\xffuser", Outcome: "OK", Success: true})
		for _, ev := range evs {
			sink.Write(ev)
		}
		if err := sink.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		st := sink.Stats()
		nExch := 1
		for _, ev := range evs {
			if isExchange(ev) {
				nExch++
			}
		}
		if st.ExportFailures != 0 || st.Dropped() != 0 || st.SpansExported != uint64(nExch) ||
			st.LogsExported != uint64(len(evs)+2) || st.AuditExported != 1 {
			t.Errorf("Stats = %+v\n%s", st, logs)
		}
		got := col.WaitFor(30*time.Second, func(r otelcol.Received) bool {
			return len(r.Spans()) >= len(before.Spans())+nExch && len(r.LogRecords()) >= len(before.LogRecords())+len(evs)+2
		})
		var sawStream, sawUser bool
		for _, s := range got.Spans()[len(before.Spans()):] {
			sawStream = sawStream || attrMap(s.Attributes)["iggy.stream"] == "bad\uFFFDstream" && strings.Contains(s.Name, "bad\uFFFDstream")
		}
		for _, r := range got.LogRecords()[len(before.LogRecords()):] {
			if r.Scope.Scope.GetName() == otlp.AuditScopeName {
				sawUser = attrMap(r.Attributes)["iggy.audit.user"] == "bad\uFFFDuser" && strings.Contains(r.Body.GetStringValue(), "bad\uFFFDuser")
			}
		}
		if !sawStream || !sawUser {
			t.Errorf("the invalid names did not arrive as U+FFFD: stream %v, audit user %v", sawStream, sawUser)
		}
	})
}

func sessionSegments(t testing.TB) []decoder.Segment { return sessiontest.Segments(t) }
