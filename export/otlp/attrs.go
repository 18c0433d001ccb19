package otlp

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/stdout"
)

// Attribute keys of the iggy namespace (docs/otlp.md). The messaging.*,
// client.*, server.*, network.* and error.type keys are the semantic
// conventions' (semconv v1.43.0).
const (
	keyEventKind     = attribute.Key("iggy.event.kind")
	keyCommandCode   = attribute.Key("iggy.command.code")
	keyCommandName   = attribute.Key("iggy.command.name")
	keyCommandGroup  = attribute.Key("iggy.command.group")
	keyStatusCode    = attribute.Key("iggy.status.code")
	keyStatusName    = attribute.Key("iggy.status.name")
	keyConnID        = attribute.Key("iggy.connection.id")
	keyFlags         = attribute.Key("iggy.flags")
	keyUser          = attribute.Key("iggy.user")
	keyUserID        = attribute.Key("iggy.user.id")
	keyRequestBytes  = attribute.Key("iggy.request.bytes")
	keyResponseBytes = attribute.Key("iggy.response.bytes")
	keyPayloadBytes  = attribute.Key("iggy.message.payload_bytes")
	keyLatencyUs     = attribute.Key("iggy.latency_us")
	keyNotFound      = attribute.Key("iggy.not_found")
	keyDecodeError   = attribute.Key("iggy.decode_error")
	keyStream        = attribute.Key("iggy.stream")
	keyTopic         = attribute.Key("iggy.topic")
	keyDirection     = attribute.Key("iggy.direction")
	keyBytes         = attribute.Key("iggy.bytes")
	keyReason        = attribute.Key("iggy.reason")
	keyConnPrefix    = "iggy.connection."
)

// messagingSystem is the value of messaging.system: not one of the
// convention's well-known values, which the convention allows.
var attrSystem = semconv.MessagingSystemKey.String("iggy")

var attrTransport = semconv.NetworkTransportTCP

// Status and command labels besides the protocol tables' names (the same as
// export/metrics uses).
const (
	commandUnknown = "unknown"
	statusNone     = "none"
	statusUnknown  = "unknown"
)

// operation describes the messaging operation of a command.
type operation struct {
	name string // messaging.operation.name
	typ  string // messaging.operation.type, "" when none applies
}

// operationOf maps a command to the messaging conventions: the operation
// name is the command's dotted name ("stream.create", "consumer_offset.store")
// without the "message." of the message commands ("send", "poll",
// "flush_unsaved_buffer"); the operation type is send for SendMessages,
// receive for PollMessages (a pull) and settle for StoreConsumerOffset (the
// consumer commits its progress); other commands have none.
func operationOf(c *protocol.Command) operation {
	if c == nil {
		return operation{name: commandUnknown}
	}
	op := operation{name: strings.TrimPrefix(c.Dotted, "message.")}
	switch c.Name {
	case "SendMessages":
		op.typ = "send"
	case "PollMessages":
		op.typ = "receive"
	case "StoreConsumerOffset":
		op.typ = "settle"
	}
	return op
}

// isBatch: the command sends or receives a batch of messages, so
// messaging.batch.message_count applies.
func isBatch(c *protocol.Command) bool {
	return c != nil && (c.Name == "SendMessages" || c.Name == "PollMessages")
}

// destination is messaging.destination.name: "stream/topic", or the stream
// alone, as decoded (a name or a numeric id); "" when the command names no
// stream.
func destination(s *protocol.Summary) string {
	switch {
	case s.Stream == "":
		return ""
	case s.Topic == "":
		return s.Stream
	}
	return s.Stream + "/" + s.Topic
}

// spanName follows the messaging conventions: "{operation} {destination}"
// when there is a destination ("send orders/events"), else the command's
// dotted name ("user.login"), or "unknown".
func spanName(ev *decoder.Event, op operation, dest string) string {
	if dest != "" {
		return op.name + " " + dest
	}
	if c := ev.Cmd(); c != nil {
		return c.Dotted
	}
	return commandUnknown
}

func commandLabel(ev *decoder.Event) string {
	if c := ev.Cmd(); c != nil && ev.Kind != decoder.EventResponse {
		return c.Name
	}
	return commandUnknown
}

func statusLabel(ev *decoder.Event) string {
	if ev.StatusName != "" {
		return ev.StatusName
	}
	if n := protocol.StatusName(ev.Status); n != "" {
		return n
	}
	return statusUnknown
}

func hasRequest(ev *decoder.Event) bool {
	return ev.Kind == decoder.EventPair || ev.Kind == decoder.EventRequest
}

func hasResponse(ev *decoder.Event) bool {
	return ev.Kind == decoder.EventPair || ev.Kind == decoder.EventResponse
}

// appendAttrs appends the attributes of ev, for its span and its log record.
func appendAttrs(a []attribute.KeyValue, ev *decoder.Event) []attribute.KeyValue {
	a = append(a,
		attrSystem,
		keyEventKind.String(ev.Kind.String()),
		keyConnID.Int64(int64(ev.ConnID)),
		attrTransport,
	)
	a = appendAddr(a, semconv.ClientAddressKey, semconv.ClientPortKey, ev.Client)
	a = appendAddr(a, semconv.ServerAddressKey, semconv.ServerPortKey, ev.Server)
	if ev.Client.Addr().Is4() || ev.Client.Addr().Is4In6() {
		a = append(a, semconv.NetworkTypeIPv4)
	} else if ev.Client.IsValid() {
		a = append(a, semconv.NetworkTypeIPv6)
	}
	if names := ev.Flags.Names(); len(names) > 0 {
		a = append(a, keyFlags.StringSlice(names))
	}
	switch ev.Kind {
	case decoder.EventPair, decoder.EventRequest, decoder.EventResponse:
		a = appendExchange(a, ev)
	case decoder.EventGap, decoder.EventDesync:
		a = append(a,
			keyDirection.String(ev.Dir.String()),
			keyBytes.Int64(int64(ev.Bytes)),
			keyReason.String(ev.Reason),
		)
	case decoder.EventClose:
		if st := ev.Stats; st != nil {
			for _, f := range [...]struct {
				name string
				v    uint64
			}{
				{"requests", st.Requests}, {"responses", st.Responses}, {"pairs", st.Pairs},
				{"bytes_in", st.BytesIn}, {"bytes_out", st.BytesOut}, {"gap_bytes", st.GapBytes},
				{"skipped_bytes", st.SkippedBytes}, {"desync_bytes", st.DesyncBytes},
				{"retransmitted_bytes", st.Retransmitted}, {"unanswered", st.Unanswered}, {"unmatched", st.Unmatched},
			} {
				a = append(a, attribute.Int64(keyConnPrefix+f.name, int64(f.v)))
			}
		}
	}
	return a
}

func appendExchange(a []attribute.KeyValue, ev *decoder.Event) []attribute.KeyValue {
	c := ev.Cmd()
	op := operationOf(c)
	a = append(a, semconv.MessagingOperationName(op.name))
	if op.typ != "" {
		a = append(a, semconv.MessagingOperationTypeKey.String(op.typ))
	}
	if hasRequest(ev) {
		a = append(a,
			keyCommandCode.Int64(int64(ev.Code)),
			keyCommandName.String(commandLabel(ev)),
			keyRequestBytes.Int64(int64(ev.ReqBytes)),
		)
		if c != nil {
			a = append(a, keyCommandGroup.String(c.Group.String()))
		}
	}
	if hasResponse(ev) {
		a = append(a,
			keyStatusCode.Int64(int64(ev.Status)),
			keyStatusName.String(statusLabel(ev)),
			keyResponseBytes.Int64(int64(ev.RespBytes)),
		)
		if ev.Status != 0 {
			a = append(a, semconv.ErrorTypeKey.String(statusLabel(ev)))
		}
	}
	if ev.Kind == decoder.EventPair {
		a = append(a, keyLatencyUs.Float64(float64(ev.Latency)/1e3))
	}
	s := &ev.Summary
	if d := destination(s); d != "" {
		a = append(a, semconv.MessagingDestinationName(d), keyStream.String(s.Stream))
		if s.Topic != "" {
			a = append(a, keyTopic.String(s.Topic))
		}
	}
	if s.HasPartition {
		a = append(a, semconv.MessagingDestinationPartitionID(strconv.FormatUint(uint64(s.Partition), 10)))
	}
	if s.ConsumerGroup != "" {
		a = append(a, semconv.MessagingConsumerGroupName(s.ConsumerGroup))
	}
	if isBatch(c) && hasRequest(ev) && (s.MessageCount != 0 || (ev.Kind == decoder.EventPair && ev.Status == 0)) {
		a = append(a, semconv.MessagingBatchMessageCount(int(s.MessageCount)))
	}
	if s.PayloadBytes != 0 {
		a = append(a, keyPayloadBytes.Int64(int64(s.PayloadBytes)))
	}
	if s.Username != "" {
		a = append(a, keyUser.String(s.Username))
	}
	if s.HasUserID {
		a = append(a, keyUserID.Int64(int64(s.UserID)))
	}
	if ev.NotFound {
		a = append(a, keyNotFound.Bool(true))
	}
	if ev.Error != "" {
		a = append(a, keyDecodeError.String(ev.Error))
	}
	return a
}

func appendAddr(a []attribute.KeyValue, addrKey, portKey attribute.Key, ap netip.AddrPort) []attribute.KeyValue {
	if !ap.IsValid() {
		return a
	}
	return append(a, addrKey.String(ap.Addr().Unmap().String()), portKey.Int(int(ap.Port())))
}

// severity of an event's log record: WARN for what went wrong (an error
// status, an exchange missing its request or response, a payload that did
// not decode, lost or undecodable bytes), INFO for the rest.
func severity(ev *decoder.Event) otellog.Severity {
	switch ev.Kind {
	case decoder.EventGap, decoder.EventDesync, decoder.EventRequest, decoder.EventResponse:
		return otellog.SeverityWarn
	case decoder.EventPair:
		if ev.Status != 0 {
			return otellog.SeverityWarn
		}
	}
	if ev.Flags&decoder.FlagDecodeError != 0 {
		return otellog.SeverityWarn
	}
	return otellog.SeverityInfo
}

// body is the log record's text: the event as `iggytrace read -o text`
// prints it, without the leading timestamp (the record has it).
func body(buf []byte, ev *decoder.Event) []byte {
	buf = stdout.AppendText(buf[:0], ev)
	if i := indexByte(buf, ' '); i >= 0 {
		buf = buf[i+1:]
	}
	return buf
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// OTLP strings must be valid UTF-8: the SDK exporters fail a whole export
// (every span or log record of the batch, audit records included) on one
// invalid string. Names and identifiers come from the wire as any bytes;
// invalid ones become U+FFFD.

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// validAttrs makes the string attributes of a valid UTF-8, in place.
func validAttrs(a []attribute.KeyValue) {
	for i := range a {
		if a[i].Value.Type() == attribute.STRING {
			if v := a[i].Value.AsString(); !utf8.ValidString(v) {
				a[i].Value = attribute.StringValue(strings.ToValidUTF8(v, "\uFFFD"))
			}
		}
	}
}
