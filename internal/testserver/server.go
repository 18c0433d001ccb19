package testserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Server. The zero value is usable.
type Config struct {
	// RootUsername and RootPassword are the credentials of the root user
	// (id 0, all permissions). Empty means "iggy", the real server's default.
	RootUsername, RootPassword string

	// Logger receives connection and command logs. nil discards them.
	Logger *slog.Logger

	// OnExchange, if set, is called after each request is answered with the
	// exact bytes of the request frame and of the response frame (both
	// including their 8-byte headers). Tests use it to obtain SDK-made bytes.
	// connID is the client id the server assigned to the connection (the id
	// GetMe/GetClients report). request holds the bytes the server consumed
	// for that request: only the 8-byte header when it answered without
	// reading the payload (length < 4, oversized control frame,
	// unauthenticated SendMessages). It is called from the connection's
	// goroutine, concurrently for different connections, after the response
	// was written (so a client may see the answer first; Close waits for
	// calls in progress). The slices are not reused by the server. May be nil.
	OnExchange func(connID uint64, request, response []byte)
}

// Server is an in-memory Iggy 0.8 server. Create it with New or Start and
// release it with Close.
type Server struct {
	cfg Config
	log *slog.Logger

	// mu guards st. Handlers run with it held (see state).
	mu sync.Mutex
	st state

	// life guards the lifecycle fields below; it is never held during I/O.
	life      sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	wg        sync.WaitGroup

	readBytes    atomic.Uint64
	writtenBytes atomic.Uint64
}

// New returns a server with only the root user. It does not listen; use
// Serve, ServeConn or Start.
func New(cfg Config) *Server {
	if cfg.RootUsername == "" {
		cfg.RootUsername = "iggy"
	}
	if cfg.RootPassword == "" {
		cfg.RootPassword = "iggy"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		log:       log,
		listeners: map[net.Listener]struct{}{},
		st: state{
			users:        map[uint32]*user{},
			streams:      map[uint32]*stream{},
			sessions:     map[uint32]*session{},
			nextClientID: 1, // GetClient rejects id 0 with InvalidClientId
			startedAt:    time.Now(),
		},
	}
	s.st.users[rootUserID] = &user{
		id:        rootUserID,
		createdAt: nowMicros(),
		status:    userActive,
		username:  cfg.RootUsername,
		password:  hashSecret(cfg.RootPassword),
		perms:     rootPermissions(),
		tokens:    map[string]*accessToken{},
	}
	s.st.nextUserID = rootUserID + 1
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves it in a goroutine
// until ctx is done or Close is called. It returns the bound address.
func Start(ctx context.Context, cfg Config, addr string) (*Server, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: listen on %s: %w", addr, err)
	}
	s := New(cfg)
	if !s.track() {
		_ = ln.Close()
		return nil, nil, errors.New("testserver: server closed")
	}
	go func() {
		defer s.wg.Done()
		if err := s.Serve(ctx, ln); err != nil {
			s.log.Error("serve stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return s, ln.Addr(), nil
}

// Serve accepts connections on ln and serves each in its own goroutine. It
// returns nil when ctx is done, when Close is called or when ln is closed,
// and an error if accepting fails for another reason.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.life.Unlock()
	defer func() {
		s.life.Lock()
		delete(s.listeners, ln)
		s.life.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()

	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(backoff)
				backoff = min(backoff*2, time.Second)
				continue
			}
			return fmt.Errorf("testserver: accept on %s: %w", ln.Addr(), err)
		}
		backoff = 5 * time.Millisecond
		if !s.track() {
			_ = conn.Close()
			return nil
		}
		go func() {
			defer s.wg.Done()
			s.ServeConn(ctx, conn, conn.RemoteAddr().String())
		}()
	}
}

// ServeConn serves one already-established connection until the peer closes
// it, ctx is done or Close is called, and closes it. remote is the peer
// address reported by GetClients/GetMe. It exists so that transports other
// than net.Listener can plug in.
func (s *Server) ServeConn(ctx context.Context, c io.ReadWriteCloser, remote string) {
	if !s.track() {
		_ = c.Close()
		return
	}
	defer s.wg.Done()

	sess := s.register(c, remote)
	defer s.unregister(sess)
	stop := context.AfterFunc(ctx, sess.shutdown)
	defer stop()

	s.log.Debug("client connected", "client_id", sess.id, "remote", remote)
	err := s.serveFrames(sess)
	sess.close()
	s.log.Debug("client disconnected", "client_id", sess.id, "remote", remote, "reason", err)
}

// Close stops all listeners, sends every connected client the unsolicited
// Disconnected (8) frame a 0.6+ server sends on shutdown, closes the
// connections and waits for all goroutines started by the server.
func (s *Server) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	var errs []error
	for ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("testserver: close listener %s: %w", ln.Addr(), err))
		}
	}
	s.life.Unlock()

	s.mu.Lock()
	sessions := make([]*session, 0, len(s.st.sessions))
	for _, c := range s.st.sessions {
		sessions = append(sessions, c)
	}
	s.mu.Unlock()
	for _, c := range sessions {
		c.shutdown()
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// track registers one goroutine with the server's WaitGroup unless the server
// is closed. The caller must call s.wg.Done when it returns true.
func (s *Server) track() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) isClosed() bool {
	s.life.Lock()
	defer s.life.Unlock()
	return s.closed
}
