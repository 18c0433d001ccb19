package citest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNeed runs a test that needs something missing, in a child process of
// this test binary, with and without CI=true: it must fail under CI and be
// skipped elsewhere.
func TestNeed(t *testing.T) {
	if os.Getenv("CITEST_CHILD") == "1" {
		Need(t, errors.New("a capability this machine lacks"))
		t.Log("reached the end") // Need did not stop the test
		return
	}
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestNeed$", "-test.v")
		cmd.Env = append(os.Environ(), "CITEST_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		s := string(out)
		switch {
		case strings.Contains(s, "reached the end"):
			t.Errorf("CI=%q: the test went on after Need:\n%s", ci, s)
		case ci == "true" && (err == nil || !strings.Contains(s, "--- FAIL") || !strings.Contains(s, "needed in CI")):
			t.Errorf("CI=true: want a failure:\n%s", s)
		case ci == "" && (err != nil || !strings.Contains(s, "--- SKIP")):
			t.Errorf("CI unset: want a skip:\n%s", s)
		}
	}
}
