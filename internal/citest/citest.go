// Package citest holds the project's one rule for tests that need something
// of the machine (root, BPF, io_uring, a tool): under CI (CI=true), where
// everything the project needs is installed and allowed, a missing
// capability fails the test, so that CI never passes by testing nothing;
// elsewhere the test is skipped, with the reason.
package citest

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/iggytrace/iggytrace/internal/iouring"
)

// inCI reports whether the tests run under CI.
func inCI() bool { return os.Getenv("CI") == "true" }

// Need does nothing if err is nil. Otherwise err says what is missing: it
// fails t under CI and skips t elsewhere.
func Need(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if inCI() {
		t.Fatalf("needed in CI: %v", err)
	}
	t.Skipf("skipped, not available here: %v", err)
}

// Needf is Need with a message of its own.
func Needf(t testing.TB, format string, args ...any) {
	t.Helper()
	Need(t, fmt.Errorf(format, args...))
}

// NeedIOURing is Need for io_uring: a kernel that lacks or forbids it
// (ENOSYS, EPERM) is a missing capability; any other setup error is a bug
// and fails t everywhere.
func NeedIOURing(t testing.TB) {
	t.Helper()
	err := iouring.Supported()
	if err != nil && !errors.Is(err, syscall.ENOSYS) && !errors.Is(err, syscall.EPERM) {
		t.Fatalf("io_uring setup: %v", err)
	}
	Need(t, err)
}
