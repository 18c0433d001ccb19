// Package audit turns decoder events into an audit trail: every login
// attempt, every logout and every administrative command (the commands the
// protocol table marks Admin), each with the user acting on the connection,
// the target, the outcome and the time. Records go out as JSON lines and to
// a Handler (the OTLP exporter's log stream). docs/audit.md describes the
// fields.
//
// Secrets never reach a record: the decoder drops their bytes and lengths
// before anything else sees them, and a record only carries summary fields
// and plain (non-secret, non-opaque) request fields.
//
// The acting user is learned from the connection's own successful login and
// nothing else; a connection whose login the capture did not see (first seen
// mid-stream, or after a loss in its request stream) acts as "unknown".
package audit

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// Actions.
const (
	ActionLogin  = "login"
	ActionLogout = "logout"
	ActionAdmin  = "admin"
)

// Users that are not names.
const (
	// UserUnknown: the capture did not see who is logged in on the
	// connection (or, for a token login, which user the token belongs to).
	UserUnknown = "unknown"
	// UserAnonymous: the connection was seen from its start and no login
	// on it succeeded (or its user logged out).
	UserAnonymous = "anonymous"
)

// Outcomes besides the status names.
const (
	// OutcomeNoResponse: the request got no response in the capture
	// (connection closed, capture ended, response lost in a gap).
	OutcomeNoResponse = "no_response"
)

// Record is one audited action.
type Record struct {
	// Time the request began (its first byte).
	Time time.Time `json:"time"`
	// Action is login, logout or admin.
	Action string `json:"action"`
	// Command is the command name ("LoginUser"), Dotted its dotted name
	// ("user.login"), Code its code.
	Command string `json:"command"`
	Dotted  string `json:"dotted"`
	Code    uint32 `json:"code"`
	// Conn is the decoder's connection number; Client and Server its ends.
	Conn   uint64 `json:"conn"`
	Client string `json:"client"`
	Server string `json:"server"`
	// User: for a login, the user logging in (the name sent, or for a token
	// login the name of the user id the server answered, when the capture
	// has seen that id's name; else "unknown"). For a logout or an admin
	// command, the user logged in on the connection: a name, "unknown" or
	// "anonymous".
	User string `json:"user"`
	// UserID: the id of User, when known.
	UserID *uint32 `json:"user_id,omitempty"`
	// Outcome is "OK", the status name ("InvalidCredentials"),
	// "UnknownStatus(N)" for a status no server version defines, or
	// "no_response". Status is the status code (absent with no response).
	Outcome string  `json:"outcome"`
	Status  *uint32 `json:"status,omitempty"`
	Success bool    `json:"success"`
	// Target is what an admin command acts on (absent for logins and
	// logouts).
	Target *Target `json:"target,omitempty"`
	// Params are the plain top-level request fields of an admin command:
	// names, counts, enums, expiries. Secret fields are never among them,
	// nor opaque bytes or nested objects (permissions).
	Params map[string]any `json:"params,omitempty"`
	// Flags are the event's findings (docs/events.md), e.g. mid_stream.
	Flags []string `json:"flags,omitempty"`
}

// Target is what an admin command acts on, as the request (and for a
// create, the response) names it: identifiers are numbers ("3") or names.
type Target struct {
	Stream        string  `json:"stream,omitempty"`
	Topic         string  `json:"topic,omitempty"`
	ConsumerGroup string  `json:"consumer_group,omitempty"`
	Partition     *uint32 `json:"partition,omitempty"`
	// User is the user the command names (an id or a name); UserName is
	// that user's name when User is an id whose name the capture has seen.
	User     string `json:"user,omitempty"`
	UserName string `json:"user_name,omitempty"`
	// ID is the id the server gave what a create command created.
	ID *uint32 `json:"id,omitempty"`
}

// Severity grades a record for log pipelines: "INFO" with OpenTelemetry
// severity number 9 for a success, "WARN" (13) for a failure or a request
// without a response.
func (r *Record) Severity() (text string, number int) {
	if r.Success {
		return "INFO", 9
	}
	return "WARN", 13
}

// Message is a one-line summary: "login iggy from 127.0.0.1:36584: OK".
func (r *Record) Message() string {
	s := r.Action + " "
	if r.Action == ActionAdmin {
		s += r.Command + " by "
	}
	return s + r.User + " from " + r.Client + ": " + r.Outcome
}

// Options configure a Trail. The zero value audits to nowhere.
type Options struct {
	// Writer receives each record as one JSON object per line, through a
	// buffer that Flush and Close write out. The Trail does not close it.
	Writer io.Writer
	// Handler receives each record too (e.g. the OTLP log exporter), on
	// the goroutine that calls Write. It must not keep the Record's
	// pointers and maps past the call if it changes them.
	Handler func(Record)
	// MaxConns caps the connections whose user is tracked (default 65536);
	// a connection opened beyond it acts as "unknown".
	MaxConns int
	// MaxUsers caps the user ids whose names are remembered (default 4096).
	MaxUsers int
}

// Trail is the audit Sink. It is not safe for concurrent use: like every
// Sink, it is fed from one goroutine.
type Trail struct {
	opts  Options
	w     *bufio.Writer
	buf   []byte
	conns map[uint64]*conn
	users users
	err   error // the first write error, returned by every later call

	untracked uint64
}

// conn is what the trail knows of one connection's session.
type conn struct {
	user  string // a name, UserUnknown or UserAnonymous
	id    uint32
	hasID bool
}

// New returns a Trail.
func New(opts Options) *Trail {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 1 << 16
	}
	if opts.MaxUsers <= 0 {
		opts.MaxUsers = 4096
	}
	t := &Trail{opts: opts, conns: map[uint64]*conn{}, users: newUsers(opts.MaxUsers)}
	if opts.Writer != nil {
		t.w = bufio.NewWriterSize(opts.Writer, 16<<10)
	}
	return t
}

// Untracked counts the connections not tracked because MaxConns were.
func (t *Trail) Untracked() uint64 { return t.untracked }

// What a command is to the audit trail, from the protocol table.
type kind uint8

const (
	kindNone       kind = iota
	kindLoginName       // Auth, answered with a user id, names the user: LoginUser, LoginRegister
	kindLoginToken      // Auth, answered with a user id, no user name: token logins
	kindLogout          // Auth without a user id in the answer: LogoutUser
	kindAdmin           // Admin
)

const maxCode = 1024

// kinds classifies every command of the table by its Auth and Admin marks
// and the roles of its layouts.
var kinds = func() (t [maxCode]kind) {
	for _, c := range protocol.Commands() {
		if c.Code >= maxCode {
			continue
		}
		switch {
		case c.Auth && hasRole(c.Response, protocol.RoleUserID) && hasRole(c.Request, protocol.RoleUsername):
			t[c.Code] = kindLoginName
		case c.Auth && hasRole(c.Response, protocol.RoleUserID):
			t[c.Code] = kindLoginToken
		case c.Auth:
			t[c.Code] = kindLogout
		case c.Admin:
			t[c.Code] = kindAdmin
		}
	}
	return t
}()

func hasRole(fs protocol.Layout, r protocol.Role) bool {
	for i := range fs {
		if fs[i].Role == r || hasRole(fs[i].Fields, r) {
			return true
		}
	}
	return false
}

// Audited reports whether the trail records a command, and as what action.
func Audited(c *protocol.Command) (action string, ok bool) {
	if c == nil || c.Code >= maxCode {
		return "", false
	}
	switch kinds[c.Code] {
	case kindLoginName, kindLoginToken:
		return ActionLogin, true
	case kindLogout:
		return ActionLogout, true
	case kindAdmin:
		return ActionAdmin, true
	}
	return "", false
}

// Write follows the sessions of connections and records the audited
// exchanges. It returns the Writer's first error.
func (t *Trail) Write(ev *decoder.Event) error {
	switch ev.Kind {
	case decoder.EventOpen:
		t.open(ev)
	case decoder.EventClose:
		delete(t.conns, ev.ConnID)
	case decoder.EventGap, decoder.EventDesync:
		// Request bytes lost or skipped may have held a login or a
		// logout: who is logged in is no longer known.
		if ev.Dir == decoder.ToServer {
			t.forgetUser(ev.ConnID)
		}
	case decoder.EventPair, decoder.EventRequest:
		t.exchange(ev)
	}
	return t.err
}

func (t *Trail) open(ev *decoder.Event) {
	if _, ok := t.conns[ev.ConnID]; !ok && len(t.conns) >= t.opts.MaxConns {
		t.untracked++
		return
	}
	c := &conn{user: UserAnonymous}
	if ev.Flags&decoder.FlagMidStream != 0 {
		c.user = UserUnknown
	}
	t.conns[ev.ConnID] = c
}

func (t *Trail) forgetUser(id uint64) {
	if c := t.conns[id]; c != nil {
		*c = conn{user: UserUnknown}
	}
}

// session returns the connection's state; an untracked connection acts as
// unknown.
func (t *Trail) session(id uint64) conn {
	if c := t.conns[id]; c != nil {
		return *c
	}
	return conn{user: UserUnknown}
}

func (t *Trail) exchange(ev *decoder.Event) {
	cmd, known := protocol.Lookup(ev.Code)
	if !known || cmd.Code >= maxCode {
		return
	}
	answered := ev.Kind == decoder.EventPair
	ok := answered && ev.Status == 0
	k := kinds[cmd.Code]
	if k == kindNone {
		if ok {
			t.users.learn(ev, cmd) // GetUser, GetUsers
		}
		return
	}
	rec := Record{
		Time: time.Unix(0, ev.ReqTime).UTC(), Command: cmd.Name, Dotted: cmd.Dotted, Code: uint32(cmd.Code),
		Conn: ev.ConnID, Client: ev.Client.String(), Server: ev.Server.String(),
		Success: ok, Flags: ev.Flags.Names(),
	}
	if answered {
		st := ev.Status
		rec.Status = &st
		rec.Outcome = ev.StatusName
		if rec.Outcome == "" {
			rec.Outcome = "UnknownStatus(" + strconv.FormatUint(uint64(st), 10) + ")"
		}
	} else {
		rec.Outcome = OutcomeNoResponse
	}
	s := t.session(ev.ConnID)
	switch k {
	case kindLoginName, kindLoginToken:
		rec.Action = ActionLogin
		rec.User = UserUnknown
		if k == kindLoginName && ev.Summary.Username != "" {
			rec.User = ev.Summary.Username
		}
		if ok && ev.Summary.HasUserID {
			id := ev.Summary.UserID
			rec.UserID = &id
			if k == kindLoginName {
				t.users.set(id, rec.User)
			} else if name, ok := t.users.name(id); ok {
				rec.User = name
			}
		}
		t.afterLogin(ev.ConnID, &rec, answered, ok)
	case kindLogout:
		rec.Action = ActionLogout
		s.setRecordUser(&rec)
		if ok {
			t.setSession(ev.ConnID, conn{user: UserAnonymous})
		} else if !answered {
			t.forgetUser(ev.ConnID)
		}
	case kindAdmin:
		rec.Action = ActionAdmin
		s.setRecordUser(&rec)
		rec.Target = t.target(ev)
		rec.Params = params(ev.Request)
		if ok {
			t.users.learn(ev, cmd) // CreateUser, UpdateUser, DeleteUser
		}
	}
	t.emit(&rec)
}

func (s conn) setRecordUser(rec *Record) {
	rec.User = s.user
	if s.hasID {
		id := s.id
		rec.UserID = &id
	}
}

// afterLogin updates the session: a success logs the user in; a failure
// leaves the session as it was (the server keeps it); a login without a
// response may have succeeded, so the user is no longer known.
func (t *Trail) afterLogin(id uint64, rec *Record, answered, ok bool) {
	switch {
	case ok:
		c := conn{user: rec.User}
		if rec.UserID != nil {
			c.id, c.hasID = *rec.UserID, true
		}
		t.setSession(id, c)
	case !answered:
		t.forgetUser(id)
	}
}

func (t *Trail) setSession(id uint64, s conn) {
	if c := t.conns[id]; c != nil {
		*c = s
	}
}

// target collects what an admin command names.
func (t *Trail) target(ev *decoder.Event) *Target {
	sum := &ev.Summary
	tg := &Target{Stream: sum.Stream, Topic: sum.Topic, ConsumerGroup: sum.ConsumerGroup, User: sum.Username}
	if sum.HasPartition {
		p := sum.Partition
		tg.Partition = &p
	}
	if id, ok := parseID(sum.Username); ok {
		if name, ok := t.users.name(id); ok {
			tg.UserName = name
		}
	}
	if ev.Kind == decoder.EventPair && ev.Status == 0 {
		if id, ok := topUint(ev.Response, "id"); ok {
			tg.ID = &id
		}
	}
	if *tg == (Target{}) {
		return nil
	}
	return tg
}

// params returns the plain top-level request fields. Secret values
// (KindRedacted) are skipped by kind, whatever their name.
func params(vals []protocol.Value) map[string]any {
	var out map[string]any
	depth := 0
	for i := range vals {
		v := &vals[i]
		var x any
		switch v.Kind {
		case protocol.KindObject, protocol.KindList:
			depth++
			continue
		case protocol.KindEnd:
			depth--
			continue
		case protocol.KindUint, protocol.KindDuration:
			x = v.Num
		case protocol.KindInt:
			x = int64(v.Num)
		case protocol.KindFloat:
			x = math.Float64frombits(v.Num)
		case protocol.KindBool:
			x = v.Num != 0
		case protocol.KindString:
			x = v.Str
		case protocol.KindEnum:
			if v.Str != "" {
				x = v.Str
			} else {
				x = v.Num
			}
		case protocol.KindTime:
			x = time.UnixMicro(int64(v.Num)).UTC()
		default: // KindRedacted, KindBytes, KindU128, ...
			continue
		}
		if depth != 0 {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[v.Name] = x
	}
	return out
}

func (t *Trail) emit(rec *Record) {
	if t.w != nil && t.err == nil {
		b, err := json.Marshal(rec)
		if err == nil {
			b = append(b, '\n')
			_, err = t.w.Write(b)
		}
		t.err = err
	}
	if t.opts.Handler != nil {
		t.opts.Handler(*rec)
	}
}

// Flush writes out the buffered records.
func (t *Trail) Flush() error {
	if t.w != nil && t.err == nil {
		t.err = t.w.Flush()
	}
	return t.err
}

// Close flushes. It does not close the Writer.
func (t *Trail) Close() error { return t.Flush() }

// parseID reads an identifier that is a number.
func parseID(s string) (uint32, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}
