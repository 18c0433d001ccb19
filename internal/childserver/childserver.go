// Package childserver runs iggytrace's Iggy test server (`iggytrace
// serve-test`) as a child process inside a given cgroup v2. A socket belongs
// to the cgroup its creator was in, so a server started there is what a
// per-cgroup capture sees — and nothing else is. The demo, the end-to-end
// tests and the tracing benchmark start their servers this way.
package childserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Server is a running child server.
type Server struct {
	cmd *exec.Cmd
}

// Start runs `bin serve-test --addr addr [--io-uring]` inside cgroup dir and
// waits until it says it is ready (or ctx ends, or 30 s pass).
func Start(ctx context.Context, bin, dir, addr string, ioUring bool) (*Server, error) {
	fd, err := syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer syscall.Close(fd)
	args := []string{"serve-test", "--addr", addr}
	if ioUring {
		args = append(args, "--io-uring")
	}
	cmd := exec.Command(bin, args...)
	// The child dies with its parent, whatever happens to the parent.
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the test server (%s serve-test) in %s: %w", bin, dir, err)
	}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("first line %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	case <-time.After(30 * time.Second):
		err = errors.New(`no "ready" after 30s`)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("test server did not start: %w", err)
	}
	return &Server{cmd: cmd}, nil
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop asks the server to shut down (SIGTERM: it sends its clients the
// Disconnected frame) and kills it if it has not exited within 3 s.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}
