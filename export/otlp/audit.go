package otlp

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/audit"
)

// The audit stream (docs/otlp.md, "Audit log stream"): the audit trail's
// records as log records of their own instrumentation scope, so that a
// Collector can route them apart (e.g. on instrumentation_scope.name).
const (
	// AuditScopeName is the instrumentation scope (logger name) of the
	// audit log records.
	AuditScopeName = "iggytrace.audit"
	// AuditEventName is the event name of every audit log record.
	AuditEventName = "iggy.audit"
)

// Attribute keys of the audit log records, after the trail's JSON fields
// (docs/audit.md).
const (
	keyAuditAction  = attribute.Key("iggy.audit.action")
	keyAuditUser    = attribute.Key("iggy.audit.user")
	keyAuditUserID  = attribute.Key("iggy.audit.user_id")
	keyAuditOutcome = attribute.Key("iggy.audit.outcome")
	keyAuditSuccess = attribute.Key("iggy.audit.success")
	auditTarget     = "iggy.audit.target."
	auditParams     = "iggy.audit.params."
)

// Audit emits an audit record as a log record of the audit stream: scope
// AuditScopeName, event name AuditEventName, the record's severity
// (Record.Severity: INFO for a success, WARN otherwise) and time, its
// Message as body, and its fields as attributes. It is the audit trail's
// Handler (audit.Options.Handler) and is called, like Write, from the
// goroutine that calls Write.
//
// Like Write it never waits: the log record is made at once (nothing of r
// is kept) and queued for the worker, which batches it with the event log
// records; with the queue full it is dropped and counted (AuditDropped,
// and LogsDropped like every log record). With the logs signal off it does
// nothing but count AuditRecords.
func (s *Sink) Audit(r audit.Record) {
	s.auditRecords.Add(1)
	if s.logs == nil {
		return
	}
	if s.closed.Load() {
		s.dropAudit()
		return
	}
	s.auditAttrs = appendAuditAttrs(s.auditAttrs[:0], &r)
	lr := &otellog.Record{}
	if !r.Time.IsZero() {
		lr.SetTimestamp(r.Time)
	}
	lr.SetObservedTimestamp(time.Now())
	text, num := r.Severity()
	lr.SetSeverity(otellog.Severity(num))
	lr.SetSeverityText(text)
	lr.SetEventName(AuditEventName)
	lr.SetBody(attribute.StringValue(validUTF8(r.Message())))
	lr.AddAttributes(s.auditAttrs...)
	select {
	case s.auditQ <- lr:
	default:
		s.dropAudit()
		s.problem("", reasonQueueFull, nil)
	}
}

// dropAudit counts an audit log record as dropped before it was emitted.
func (s *Sink) dropAudit() {
	s.logs.dropped.Add(1)
	s.logs.auditDropped.Add(1)
}

// isAuditRecord picks out the audit stream's records in the logs pipe.
func isAuditRecord(r *sdklog.Record) bool {
	return r.InstrumentationScope().Name == AuditScopeName
}

// appendAuditAttrs appends the attributes of an audit record. Strings that
// come from the wire are made valid UTF-8 (OTLP requires it: one invalid
// string fails the whole export).
func appendAuditAttrs(a []attribute.KeyValue, r *audit.Record) []attribute.KeyValue {
	a = append(a,
		attrSystem,
		keyAuditAction.String(r.Action),
		keyCommandName.String(r.Command),
		keyCommandCode.Int64(int64(r.Code)),
		semconv.MessagingOperationName(strings.TrimPrefix(r.Dotted, "message.")),
		keyConnID.Int64(int64(r.Conn)),
		attrTransport,
	)
	if ap, err := netip.ParseAddrPort(r.Client); err == nil {
		a = appendAddr(a, semconv.ClientAddressKey, semconv.ClientPortKey, ap)
		if ap.Addr().Unmap().Is4() {
			a = append(a, semconv.NetworkTypeIPv4)
		} else {
			a = append(a, semconv.NetworkTypeIPv6)
		}
	}
	if ap, err := netip.ParseAddrPort(r.Server); err == nil {
		a = appendAddr(a, semconv.ServerAddressKey, semconv.ServerPortKey, ap)
	}
	a = append(a, keyAuditUser.String(validUTF8(r.User)))
	if r.UserID != nil {
		a = append(a, keyAuditUserID.Int64(int64(*r.UserID)))
	}
	a = append(a,
		keyAuditOutcome.String(validUTF8(r.Outcome)),
		keyAuditSuccess.Bool(r.Success),
	)
	if r.Status != nil {
		a = append(a, keyStatusCode.Int64(int64(*r.Status)))
	}
	if !r.Success {
		a = append(a, semconv.ErrorTypeKey.String(validUTF8(r.Outcome)))
	}
	if len(r.Flags) > 0 {
		a = append(a, keyFlags.StringSlice(r.Flags))
	}
	if t := r.Target; t != nil {
		for _, f := range [...]struct{ key, v string }{
			{"stream", t.Stream}, {"topic", t.Topic}, {"consumer_group", t.ConsumerGroup},
			{"user", t.User}, {"user_name", t.UserName},
		} {
			if f.v != "" {
				a = append(a, attribute.String(auditTarget+f.key, validUTF8(f.v)))
			}
		}
		if t.Partition != nil {
			a = append(a, attribute.Int64(auditTarget+"partition", int64(*t.Partition)))
		}
		if t.ID != nil {
			a = append(a, attribute.Int64(auditTarget+"id", int64(*t.ID)))
		}
	}
	return appendAuditParams(a, r)
}

// appendAuditParams appends the record's params as iggy.audit.params.NAME,
// in name order. The trail puts only plain request fields there (never a
// secret: those are KindRedacted and skipped by kind); this checks again
// rather than trust it blindly: a name that is a secret field of any
// command, or that looks like one, is left out, and so is a value of any
// type but the plain ones the trail makes.
func appendAuditParams(a []attribute.KeyValue, r *audit.Record) []attribute.KeyValue {
	if len(r.Params) == 0 {
		return a
	}
	names := make([]string, 0, len(r.Params))
	for name := range r.Params {
		if !secretParam(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		key := auditParams + name
		switch v := r.Params[name].(type) {
		case string:
			a = append(a, attribute.String(key, validUTF8(v)))
		case bool:
			a = append(a, attribute.Bool(key, v))
		case int64:
			a = append(a, attribute.Int64(key, v))
		case uint64:
			if v <= math.MaxInt64 {
				a = append(a, attribute.Int64(key, int64(v)))
			} else {
				a = append(a, attribute.String(key, strconv.FormatUint(v, 10)))
			}
		case float64:
			a = append(a, attribute.Float64(key, v))
		case time.Time:
			a = append(a, attribute.String(key, v.UTC().Format(time.RFC3339Nano)))
		}
	}
	return a
}

// secretNames are the names of every secret field of the protocol table
// (request and response, last path element).
var secretNames = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range protocol.Commands() {
		for _, p := range c.Secrets {
			if i := strings.LastIndexByte(p, '.'); i >= 0 {
				p = p[i+1:]
			}
			m[p] = true
		}
	}
	return m
}()

// secretParam: name is a secret field's, or looks like one.
func secretParam(name string) bool {
	if secretNames[name] {
		return true
	}
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "token") ||
		strings.Contains(n, "secret") || strings.Contains(n, "credential")
}
