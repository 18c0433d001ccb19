package workload

import (
	"errors"
	"fmt"
	"sync"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
	ierror "github.com/apache/iggy/foreign/go/errors"
)

// Fixed credentials and names the workload uses. Passwords and tokens are
// secrets a decoder must never print; Secrets lists them.
const (
	RootUsername    = "iggy"
	RootPassword    = "r00t-Passw0rd!"
	UserName        = "iggytrace-user"
	UserPassword    = "s3cr3t-Passw0rd!"
	NewUserPassword = "n3w-s3cr3t-Passw0rd!"
	WrongPassword   = "wr0ng-Passw0rd!"
	BogusToken      = "b0gus-t0ken-1234567890-not-a-real-personal-access-token"
	TokenName       = "iggytrace-pat"
)

// NoStatus is what Call.Status reports for a failure that is not an Iggy
// status (a transport error or an SDK-side check).
const NoStatus = ^uint32(0)

// Call is one request the workload made and what came of it.
type Call struct {
	// Method is the SDK method name ("CreateStream", ...) or, for the raw
	// client, the command name ("GetMe", "PurgeTopic", ...).
	Method string
	// Code is the Iggy command code of the request frame.
	Code uint32
	// Args are the arguments as the caller passed them: identifiers as
	// uint32 (numeric) or string, names, counts, payloads ([][]byte),
	// passwords and tokens included.
	Args map[string]any
	// Err is what the SDK (or RawConn) returned; see Status.
	Err error
	// Result is the decoded answer (e.g. *iggcon.StreamDetails); nil on
	// error and for commands without an answer.
	Result any
	// ConnIndex says which of the workload's connections carried the call,
	// in the order the connections were opened (0, 1, ...).
	ConnIndex int
}

// Status is the status word the server answered with: 0 for OK (including
// the empty "not found" answers), the Iggy error code otherwise, and NoStatus
// when Err is not an Iggy status. The SDK turns some empty OK answers into
// errors (GetStream → StreamIdNotFound, GetTopic → TopicIdNotFound, GetUser →
// ResourceNotFound, GetConsumerGroup → ConsumerGroupIdNotFound,
// GetPersonalAccessTokens → EmptyMessagePayload); a 0.8 server never sends
// those codes for those commands, so Status reports 0 for them.
func (c Call) Status() uint32 {
	if c.Err == nil {
		return 0
	}
	var se *StatusError
	if errors.As(c.Err, &se) {
		return se.Status
	}
	var ie ierror.IggyError
	if errors.As(c.Err, &ie) {
		code := uint32(ie.Code())
		if sdkSynthesized(c.Method, code) {
			return 0
		}
		return code
	}
	return NoStatus
}

// sdkSynthesized reports whether the SDK makes up this error from an empty
// OK answer.
func sdkSynthesized(method string, code uint32) bool {
	switch method {
	case "GetStream":
		return code == uint32(ierror.StreamIdNotFoundCode)
	case "GetTopic":
		return code == uint32(ierror.TopicIdNotFoundCode)
	case "GetUser":
		return code == uint32(ierror.ResourceNotFoundCode)
	case "GetConsumerGroup":
		return code == uint32(ierror.ConsumerGroupIdNotFoundCode)
	case "GetPersonalAccessTokens":
		return code == uint32(ierror.EmptyMessagePayloadCode)
	}
	return false
}

func (c Call) String() string {
	return fmt.Sprintf("conn %d %s (code %d) → status %d", c.ConnIndex, c.Method, c.Code, c.Status())
}

// Secrets lists every secret that went over the wire in calls: the fixed
// passwords and tokens above plus every raw personal access token a
// CreatePersonalAccessToken call received. A decoder's output must contain
// none of them.
func Secrets(calls []Call) []string {
	out := []string{RootPassword, UserPassword, NewUserPassword, WrongPassword, BogusToken}
	for _, c := range calls {
		if tok, ok := c.Result.(*iggcon.RawPersonalAccessToken); ok && tok != nil {
			out = append(out, tok.Token)
		}
	}
	return out
}

// recorder collects calls from any number of goroutines.
type recorder struct {
	mu    sync.Mutex
	calls []Call
}

func (r *recorder) add(c Call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}
