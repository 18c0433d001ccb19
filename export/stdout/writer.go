// Package stdout writes decoder events as JSON lines or as readable text, one
// line per event. The JSON field names are documented in docs/events.md.
package stdout

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// Format is an output format.
type Format uint8

const (
	JSON Format = iota
	Text
)

// ParseFormat reads "json" or "text".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "json", "jsonl":
		return JSON, nil
	case "text", "txt":
		return Text, nil
	}
	return 0, fmt.Errorf("unknown output format %q (want json or text)", s)
}

// Writer writes events to an io.Writer through a buffer; call Flush at the
// end. It is not safe for concurrent use.
type Writer struct {
	w      *bufio.Writer
	format Format
	buf    []byte
}

// New returns a Writer of the given format.
func New(w io.Writer, f Format) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), format: f, buf: make([]byte, 0, 4096)}
}

// Write writes one event as one line.
func (w *Writer) Write(ev *decoder.Event) error {
	if w.format == Text {
		w.buf = AppendText(w.buf[:0], ev)
	} else {
		w.buf = AppendJSON(w.buf[:0], ev)
	}
	w.buf = append(w.buf, '\n')
	_, err := w.w.Write(w.buf)
	return err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// eventTime is the time a line is stamped with: when the exchange began, or
// when the lone response or close was seen.
func eventTime(ev *decoder.Event) int64 {
	if ev.ReqTime != 0 {
		return ev.ReqTime
	}
	return ev.RespTime
}

// appendTime writes ns as RFC 3339 UTC with microseconds
// ("2006-01-02T15:04:05.000000Z"). It formats the digits itself, two at a
// time: parsing a layout for every line was an eighth of the tracer's CPU,
// and a full-mode event carries two timestamps per message.
func appendTime(b []byte, ns int64) []byte {
	t := time.Unix(0, ns).UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	us := t.Nanosecond() / 1000
	b = append2(b, year/100)
	b = append2(b, year%100)
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, min)
	b = append(b, ':')
	b = append2(b, sec)
	b = append(b, '.')
	b = append2(b, us/10000)
	b = append2(b, us/100%100)
	b = append2(b, us%100)
	return append(b, 'Z')
}

const twoDigits = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// append2 appends v (0..99) as two decimal digits.
func append2(b []byte, v int) []byte {
	return append(b, twoDigits[2*v], twoDigits[2*v+1])
}

// AppendJSON appends ev as one JSON object (no newline).
func AppendJSON(b []byte, ev *decoder.Event) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, eventTime(ev))
	b = append(b, `","event":"`...)
	b = append(b, ev.Kind.String()...)
	b = append(b, `","conn":`...)
	b = strconv.AppendUint(b, ev.ConnID, 10)
	b = append(b, `,"client":"`...)
	b = ev.Client.AppendTo(b)
	b = append(b, `","server":"`...)
	b = ev.Server.AppendTo(b)
	b = append(b, '"')
	switch ev.Kind {
	case decoder.EventPair, decoder.EventRequest, decoder.EventResponse:
		b = appendExchangeJSON(b, ev)
	case decoder.EventGap, decoder.EventDesync:
		b = append(b, `,"direction":"`...)
		b = append(b, ev.Dir.String()...)
		b = append(b, `","bytes":`...)
		b = strconv.AppendUint(b, ev.Bytes, 10)
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, ev.Reason)
	case decoder.EventClose:
		if ev.Stats != nil {
			b = appendStatsJSON(b, ev.Stats)
		}
	}
	if len(ev.Flags.Names()) > 0 {
		b = append(b, `,"flags":[`...)
		for i, n := range ev.Flags.Names() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, n)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendExchangeJSON(b []byte, ev *decoder.Event) []byte {
	if ev.Kind != decoder.EventResponse {
		b = append(b, `,"code":`...)
		b = strconv.AppendUint(b, uint64(ev.Code), 10)
		b = append(b, `,"command":`...)
		b = appendJSONString(b, commandName(ev))
	}
	if ev.Kind != decoder.EventRequest {
		b = append(b, `,"status":`...)
		b = strconv.AppendUint(b, uint64(ev.Status), 10)
		b = append(b, `,"status_name":`...)
		b = appendJSONString(b, statusName(ev))
	}
	if ev.NotFound {
		b = append(b, `,"not_found":true`...)
	}
	if ev.Kind == decoder.EventPair {
		b = append(b, `,"latency_us":`...)
		b = strconv.AppendFloat(b, float64(ev.Latency)/1e3, 'f', 3, 64)
	}
	if ev.ReqBytes != 0 {
		b = append(b, `,"request_bytes":`...)
		b = strconv.AppendUint(b, uint64(ev.ReqBytes), 10)
	}
	if ev.RespBytes != 0 {
		b = append(b, `,"response_bytes":`...)
		b = strconv.AppendUint(b, uint64(ev.RespBytes), 10)
	}
	b = appendSummaryJSON(b, &ev.Summary)
	if ev.Request != nil || ev.Kind != decoder.EventResponse {
		b = append(b, `,"request":`...)
		b = appendJSONValues(b, ev.Request)
	}
	if ev.Response != nil {
		b = append(b, `,"response":`...)
		b = appendJSONValues(b, ev.Response)
	}
	if ev.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, ev.Error)
	}
	return b
}

func appendSummaryJSON(b []byte, s *protocol.Summary) []byte {
	str := func(b []byte, name, v string) []byte {
		if v == "" {
			return b
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		return appendJSONString(b, v)
	}
	b = str(b, "stream", s.Stream)
	b = str(b, "topic", s.Topic)
	b = str(b, "consumer_group", s.ConsumerGroup)
	if s.HasPartition {
		b = append(b, `,"partition":`...)
		b = strconv.AppendUint(b, uint64(s.Partition), 10)
	}
	b = str(b, "user", s.Username)
	if s.HasUserID {
		b = append(b, `,"user_id":`...)
		b = strconv.AppendUint(b, uint64(s.UserID), 10)
	}
	if s.MessageCount != 0 {
		b = append(b, `,"messages":`...)
		b = strconv.AppendUint(b, uint64(s.MessageCount), 10)
	}
	if s.PayloadBytes != 0 {
		b = append(b, `,"payload_bytes":`...)
		b = strconv.AppendUint(b, s.PayloadBytes, 10)
	}
	return b
}

func appendStatsJSON(b []byte, s *decoder.ConnStats) []byte {
	fields := [...]struct {
		name string
		v    uint64
	}{
		{"requests", s.Requests}, {"responses", s.Responses}, {"pairs", s.Pairs},
		{"bytes_in", s.BytesIn}, {"bytes_out", s.BytesOut}, {"gap_bytes", s.GapBytes},
		{"skipped_bytes", s.SkippedBytes}, {"desync_bytes", s.DesyncBytes},
		{"retransmitted_bytes", s.Retransmitted}, {"unanswered", s.Unanswered}, {"unmatched", s.Unmatched},
	}
	b = append(b, `,"stats":{`...)
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		b = strconv.AppendUint(b, f.v, 10)
	}
	return append(b, '}')
}

func commandName(ev *decoder.Event) string {
	if ev.Command != "" {
		return ev.Command
	}
	return "Unknown(" + strconv.FormatUint(uint64(ev.Code), 10) + ")"
}

func statusName(ev *decoder.Event) string {
	if ev.StatusName != "" {
		return ev.StatusName
	}
	return "UnknownStatus(" + strconv.FormatUint(uint64(ev.Status), 10) + ")"
}

// maxTextFields caps the fields shown per side on a text line; JSON has them all.
const maxTextFields = 8

// AppendText appends ev as one readable line (no newline): time, connection,
// client, command, key fields, status name and latency.
func AppendText(b []byte, ev *decoder.Event) []byte {
	b = appendTime(b, eventTime(ev))
	b = append(b, " #"...)
	b = strconv.AppendUint(b, ev.ConnID, 10)
	b = append(b, ' ')
	b = ev.Client.AppendTo(b)
	b = append(b, ' ')
	switch ev.Kind {
	case decoder.EventPair, decoder.EventRequest:
		b = append(b, commandName(ev)...)
		b = appendTextValues(b, ev.Request)
		if ev.Kind == decoder.EventPair {
			b = append(b, " → "...)
			b = append(b, statusName(ev)...)
			if ev.NotFound {
				b = append(b, " (not found)"...)
			}
			b = appendTextValues(b, ev.Response)
			b = append(b, " ("...)
			b = appendLatency(b, ev.Latency)
			b = append(b, ')')
		} else {
			b = append(b, " → (no response)"...)
		}
	case decoder.EventResponse:
		b = append(b, "(no request) → "...)
		b = append(b, statusName(ev)...)
	case decoder.EventOpen:
		b = append(b, "connection opened to "...)
		b = ev.Server.AppendTo(b)
	case decoder.EventClose:
		b = append(b, "connection closed"...)
		if s := ev.Stats; s != nil {
			b = append(b, " requests="...)
			b = strconv.AppendUint(b, s.Requests, 10)
			b = append(b, " pairs="...)
			b = strconv.AppendUint(b, s.Pairs, 10)
			if s.GapBytes != 0 {
				b = append(b, " gap_bytes="...)
				b = strconv.AppendUint(b, s.GapBytes, 10)
			}
			if s.DesyncBytes != 0 {
				b = append(b, " desync_bytes="...)
				b = strconv.AppendUint(b, s.DesyncBytes, 10)
			}
		}
	case decoder.EventGap, decoder.EventDesync:
		b = append(b, strings.ToUpper(ev.Kind.String())...)
		b = append(b, ' ')
		b = append(b, ev.Dir.String()...)
		b = append(b, " stream: "...)
		b = strconv.AppendUint(b, ev.Bytes, 10)
		b = append(b, " bytes ("...)
		b = append(b, ev.Reason...)
		b = append(b, ')')
	}
	if names := ev.Flags.Names(); len(names) > 0 {
		b = append(b, " ["...)
		b = append(b, strings.Join(names, ",")...)
		b = append(b, ']')
	}
	if ev.Error != "" {
		b = append(b, " error="...)
		b = strconv.AppendQuote(b, ev.Error)
	}
	return b
}

func appendLatency(b []byte, ns int64) []byte {
	switch {
	case ns < 0:
		return append(b, '?')
	case ns < 1e6:
		b = strconv.AppendFloat(b, float64(ns)/1e3, 'f', 1, 64)
		return append(b, "µs"...)
	case ns < 1e9:
		b = strconv.AppendFloat(b, float64(ns)/1e6, 'f', 2, 64)
		return append(b, "ms"...)
	}
	b = strconv.AppendFloat(b, float64(ns)/1e9, 'f', 3, 64)
	return append(b, 's')
}

// appendTextValues shows the top-level fields of a payload as key=value; a
// nested list shows as its element count.
func appendTextValues(b []byte, vs []protocol.Value) []byte {
	shown, depth := 0, 0
	for i := 0; i < len(vs); i++ {
		v := &vs[i]
		switch v.Kind {
		case protocol.KindEnd:
			depth--
			continue
		case protocol.KindObject, protocol.KindList:
			if depth == 0 && shown < maxTextFields {
				b = append(b, ' ')
				b = append(b, v.Name...)
				switch {
				case v.Kind == protocol.KindList:
					b = append(b, "=["...)
					b = strconv.AppendInt(b, int64(countItems(vs[i+1:])), 10)
					b = append(b, ']')
				case smallObject(vs[i+1:]):
					b = append(b, '=')
					b = appendInlineObject(b, vs[i+1:])
				default:
					b = append(b, "={…}"...)
				}
				shown++
			}
			depth++
			continue
		}
		if depth != 0 {
			continue
		}
		if shown == maxTextFields {
			b = append(b, " …"...)
			shown++
		}
		if shown > maxTextFields {
			continue
		}
		b = append(b, ' ')
		b = append(b, v.Name...)
		b = append(b, '=')
		b = appendTextScalar(b, v)
		shown++
	}
	return b
}

// countItems counts the direct children of the list whose contents begin vs.
func countItems(vs []protocol.Value) int {
	n, depth := 0, 0
	for i := range vs {
		switch vs[i].Kind {
		case protocol.KindEnd:
			if depth == 0 {
				return n
			}
			depth--
		case protocol.KindObject, protocol.KindList:
			if depth == 0 {
				n++
			}
			depth++
		default:
			if depth == 0 {
				n++
			}
		}
	}
	return n
}

// smallObject reports whether the object whose contents begin vs holds at
// most 3 scalars and nothing nested, so a text line can show it inline.
func smallObject(vs []protocol.Value) bool {
	for i := range vs {
		switch vs[i].Kind {
		case protocol.KindEnd:
			return true
		case protocol.KindObject, protocol.KindList:
			return false
		}
		if i == 3 {
			return false
		}
	}
	return false
}

// appendInlineObject shows a small object as {name=value ...}; an object of
// one field shows as its value.
func appendInlineObject(b []byte, vs []protocol.Value) []byte {
	if len(vs) > 1 && vs[1].Kind == protocol.KindEnd {
		return appendTextScalar(b, &vs[0])
	}
	b = append(b, '{')
	for i := 0; vs[i].Kind != protocol.KindEnd; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, vs[i].Name...)
		b = append(b, '=')
		b = appendTextScalar(b, &vs[i])
	}
	return append(b, '}')
}

func appendTextScalar(b []byte, v *protocol.Value) []byte {
	switch v.Kind {
	case protocol.KindEnum:
		if v.Str != "" {
			return append(b, v.Str...)
		}
	case protocol.KindRedacted:
		return append(b, "[REDACTED]"...)
	case protocol.KindString:
		if needsQuote(v.Str) {
			return strconv.AppendQuote(b, v.Str)
		}
		return append(b, v.Str...)
	case protocol.KindDuration:
		if v.Num > math.MaxInt64/1000 {
			return strconv.AppendUint(b, v.Num, 10)
		}
		return append(b, (time.Duration(v.Num) * time.Microsecond).String()...)
	case protocol.KindBytes:
		b = strconv.AppendUint(b, v.Num, 10)
		return append(b, "B"...)
	case protocol.KindTime:
		if v.Num == 0 {
			return append(b, '0')
		}
		return appendMicros(b, v.Num)
	case protocol.KindU128:
		return appendUUID(b, v)
	}
	return appendJSONScalar(b, v)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '"' || c == '=' || c >= 0x7f {
			return true
		}
	}
	return false
}
