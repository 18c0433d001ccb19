package workload

import (
	"context"
	"fmt"

	"github.com/apache/iggy/foreign/go/client"
	"github.com/apache/iggy/foreign/go/client/tcp"
	iggcon "github.com/apache/iggy/foreign/go/contracts"
)

// Command codes of the calls the workload makes (iggy-wire.md §3).
const (
	codePing               = 1
	codeGetStats           = 10
	codeGetSnapshotFile    = 11
	codeGetClusterMetadata = 12
	codeGetMe              = 20
	codeGetClient          = 21
	codeGetClients         = 22
	codeGetUser            = 31
	codeGetUsers           = 32
	codeCreateUser         = 33
	codeDeleteUser         = 34
	codeUpdateUser         = 35
	codeUpdatePermissions  = 36
	codeChangePassword     = 37
	codeLoginUser          = 38
	codeLogoutUser         = 39
	codeGetTokens          = 41
	codeCreateToken        = 42
	codeDeleteToken        = 43
	codeLoginWithToken     = 44
	codePollMessages       = 100
	codeSendMessages       = 101
	codeFlushUnsavedBuffer = 102
	codeGetConsumerOffset  = 120
	codeStoreConsumerOff   = 121
	codeDeleteConsumerOff  = 122
	codeGetStream          = 200
	codeGetStreams         = 201
	codeCreateStream       = 202
	codeDeleteStream       = 203
	codeUpdateStream       = 204
	codePurgeStream        = 205
	codeGetTopic           = 300
	codeGetTopics          = 301
	codeCreateTopic        = 302
	codeDeleteTopic        = 303
	codeUpdateTopic        = 304
	codePurgeTopic         = 305
	codeCreatePartitions   = 402
	codeDeletePartitions   = 403
	codeDeleteSegments     = 503
	codeGetConsumerGroup   = 600
	codeGetConsumerGroups  = 601
	codeCreateConsumerGrp  = 602
	codeDeleteConsumerGrp  = 603
	codeJoinConsumerGroup  = 604
	codeLeaveConsumerGroup = 605
)

// withoutHeartbeat resets the SDK client options to their zero value, whose
// heartbeat interval is 0 (disabled). It must come before client.WithTcp,
// which then sets the protocol and TCP options again.
func withoutHeartbeat(o *client.Options) { *o = client.Options{} }

// dialSDK creates an SDK client connected to addr. The SDK's connect retries
// forever with no context, so the attempt runs in a goroutine and is
// abandoned (and cleaned up when it finishes) if ctx ends first.
func dialSDK(ctx context.Context, addr string) (iggcon.Client, error) {
	type result struct {
		cli iggcon.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		cli, err := client.NewIggyClient(withoutHeartbeat, client.WithTcp(tcp.WithServerAddress(addr)))
		done <- result{cli, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("workload: connect SDK client to %s: %w", addr, r.err)
		}
		return r.cli, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.cli != nil {
				_ = r.cli.Close()
			}
		}()
		return nil, fmt.Errorf("workload: connect SDK client to %s: %w", addr, ctx.Err())
	}
}

// connect is dialSDK plus closing the client when ctx ends (which unblocks
// a call in flight); the returned func closes it earlier.
func connect(ctx context.Context, addr string) (iggcon.Client, func(), error) {
	cli, err := dialSDK(ctx, addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = cli.Close() })
	return cli, func() {
		stop()
		_ = cli.Close()
	}, nil
}

// sdkConn is one SDK connection whose calls are logged.
type sdkConn struct {
	cli   iggcon.Client
	idx   int
	rec   *recorder
	chk   *checker // nil: statuses are not checked
	close func()
}

// openSDK connects a logged SDK connection with the next connection index.
// The client is closed when ctx ends, which unblocks a call in flight.
func openSDK(ctx context.Context, addr string, idx int, rec *recorder, chk *checker) (*sdkConn, error) {
	cli, closeCli, err := connect(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &sdkConn{cli: cli, idx: idx, rec: rec, chk: chk, close: closeCli}, nil
}

// log appends a call and checks its status against want.
func (c *sdkConn) log(call Call, want uint32) {
	call.ConnIndex = c.idx
	c.rec.add(call)
	c.chk.expect(call, want)
}

// sdkDo runs one SDK method that returns a value and logs it.
func sdkDo[T any](c *sdkConn, method string, code uint32, args map[string]any, want uint32, fn func(iggcon.Client) (T, error)) T {
	v, err := fn(c.cli)
	call := Call{Method: method, Code: code, Args: args, Err: err}
	if err == nil {
		call.Result = v
	}
	c.log(call, want)
	return v
}

// sdkExec runs one SDK method that returns only an error and logs it.
func sdkExec(c *sdkConn, method string, code uint32, args map[string]any, want uint32, fn func(iggcon.Client) error) error {
	err := fn(c.cli)
	c.log(Call{Method: method, Code: code, Args: args, Err: err}, want)
	return err
}

// login logs in with a password and records the GetClusterMetadata request
// the SDK sends by itself after a successful login.
func (c *sdkConn) login(username, password string, want uint32) *iggcon.IdentityInfo {
	id := sdkDo(c, "LoginUser", codeLoginUser, map[string]any{"username": username, "password": password}, want,
		func(cli iggcon.Client) (*iggcon.IdentityInfo, error) { return cli.LoginUser(username, password) })
	if id != nil {
		c.implicitClusterMetadata()
	}
	return id
}

// loginToken logs in with a personal access token, see login.
func (c *sdkConn) loginToken(token string, want uint32) *iggcon.IdentityInfo {
	id := sdkDo(c, "LoginWithPersonalAccessToken", codeLoginWithToken, map[string]any{"token": token}, want,
		func(cli iggcon.Client) (*iggcon.IdentityInfo, error) { return cli.LoginWithPersonalAccessToken(token) })
	if id != nil {
		c.implicitClusterMetadata()
	}
	return id
}

func (c *sdkConn) implicitClusterMetadata() {
	c.rec.add(Call{Method: "GetClusterMetadata", Code: codeGetClusterMetadata, Args: map[string]any{"implicit": true}, ConnIndex: c.idx})
}

// logout logs out, logged.
func (c *sdkConn) logout() error {
	return sdkExec(c, "LogoutUser", codeLogoutUser, nil, 0, func(cli iggcon.Client) error { return cli.LogoutUser() })
}

// idArg renders an identifier for Call.Args: uint32 or string.
func idArg(id iggcon.Identifier) any {
	if v, err := id.Uint32(); err == nil {
		return v
	}
	s, _ := id.String()
	return s
}

// numID and nameID build identifiers; both constructors only fail for an
// empty or over-long name, which the workload never uses.
func numID(v uint32) iggcon.Identifier {
	id, _ := iggcon.NewIdentifier(v)
	return id
}

func nameID(s string) iggcon.Identifier {
	id, _ := iggcon.NewIdentifier(s)
	return id
}
