package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/internal/testserver"
	"github.com/iggytrace/iggytrace/internal/workload"
)

// update regenerates the golden files: go test ./cmd/iggytrace -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const (
	sessionPcap = "../../testdata/session.pcapng"
	goldenDir   = "../../testdata/golden"
)

// runCLI runs iggytrace in-process with args and returns what it wrote to
// stdout and stderr.
func runCLI(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("iggytrace %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

// compareGolden compares got with the golden file name, or rewrites it
// with -update. On a mismatch it reports the first differing line.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs from the golden file at line %d (%d lines, want %d):\n got: %s\nwant: %s\n(run with -update if the change is intended)",
				name, i+1, len(gl), len(wl), g, w)
		}
	}
}

func TestGoldenSession(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		flags      []string
	}{
		{"json", "session.jsonl", []string{"-o", "json"}},
		{"text", "session.txt", []string{"-o", "text"}},
		{"json-messages", "session.messages.jsonl", []string{"-o", "json", "--messages"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"read", "--progress", "never"}, tc.flags...)
			out, stderr := runCLI(t, append(args, sessionPcap)...)
			compareGolden(t, tc.file, out)
			// Batches list their messages with --messages only.
			if got, want := strings.Contains(out, `"messages":[{"checksum"`), slices.Contains(tc.flags, "--messages"); got != want {
				t.Errorf("message lists in the output: %v, want %v", got, want)
			}
			// The summary states that everything was paired and decoded.
			want := "3 connections, 123 exchanges paired, 0 unanswered, 0 unmatched responses, 0 decode errors"
			if !strings.Contains(stderr, want) {
				t.Errorf("summary on stderr lacks %q:\n%s", want, stderr)
			}
			if strings.Contains(stderr, "gaps") {
				t.Errorf("summary reports losses on a clean capture:\n%s", stderr)
			}
			// The embedded sample is the same capture: same output.
			embedded, _ := runCLI(t, args...)
			if embedded != out {
				t.Errorf("read of the embedded sample differs from read %s", sessionPcap)
			}
		})
	}
}

// TestGoldenJSONValid checks every line of the JSON output against
// docs/events.md: valid JSON, the fields every event has, and the fields
// its kind documents.
func TestGoldenJSONValid(t *testing.T) {
	out, _ := runCLI(t, "read", "--progress", "never", "-o", "json", sessionPcap)
	kinds := checkJSONLines(t, out)
	want := map[string]int{"open": 3, "pair": 123, "close": 3}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s events, want %d", kinds[k], k, n)
		}
	}
	for k, n := range kinds {
		if _, ok := want[k]; !ok {
			t.Errorf("%d unexpected %s events on a clean capture", n, k)
		}
	}
}

// checkJSONLines parses every line of a JSON-lines output and checks the
// documented fields; it returns the events by kind.
func checkJSONLines(t *testing.T, out string) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 16<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		var ev map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", n, err, line)
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one JSON value:\n%s", n, line)
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("line %d: "+format+"\n%s", append([]any{n}, append(args, line)...)...)
		}
		str := func(name string) string {
			s, ok := ev[name].(string)
			if !ok {
				fail("field %q missing or not a string", name)
			}
			return s
		}
		num := func(name string) {
			if _, ok := ev[name].(json.Number); !ok {
				fail("field %q missing or not a number", name)
			}
		}
		obj := func(name string) map[string]any {
			o, ok := ev[name].(map[string]any)
			if !ok {
				fail("field %q missing or not an object", name)
			}
			return o
		}
		str("time")
		num("conn")
		str("client")
		str("server")
		kind := str("event")
		kinds[kind]++
		if f, ok := ev["flags"]; ok {
			arr, ok := f.([]any)
			if !ok || len(arr) == 0 {
				fail("flags is not a non-empty array")
			}
		}
		switch kind {
		case "pair", "request", "response":
			if kind != "response" {
				num("code")
				str("command")
				obj("request")
				num("request_bytes")
			}
			if kind != "request" {
				num("status")
				str("status_name")
				num("response_bytes")
			}
			if kind == "pair" {
				num("latency_us")
			}
			if _, ok := ev["error"]; ok {
				fail("error field on a clean capture")
			}
		case "gap", "desync":
			str("direction")
			num("bytes")
			str("reason")
		case "close":
			st := obj("stats")
			for _, f := range []string{"requests", "responses", "pairs", "bytes_in", "bytes_out", "gap_bytes",
				"skipped_bytes", "desync_bytes", "retransmitted_bytes", "unanswered", "unmatched"} {
				if _, ok := st[f].(json.Number); !ok {
					fail("stats.%s missing or not a number", f)
				}
			}
		case "open":
		default:
			fail("unknown event kind %q", kind)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kinds
}

// TestGoldenMatchesWorkload checks the golden output against what really
// happened: it runs the same workload (internal/workload.Full, the official
// Go SDK) against a fresh test server and compares, connection by
// connection, the command codes and statuses the workload logged with the
// pairs iggytrace decoded from the capture of an identical run.
func TestGoldenMatchesWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the SDK workload")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, addr, err := testserver.Start(ctx, testserver.Config{RootPassword: workload.RootPassword,
		Logger: slog.New(slog.DiscardHandler)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	calls, err := workload.Full(ctx, addr.String())
	if cerr := srv.Close(); cerr != nil {
		t.Errorf("close test server: %v", cerr)
	}
	if err != nil {
		t.Fatalf("workload: %v", err)
	}
	want := map[uint64][]string{}
	for _, c := range calls {
		want[uint64(c.ConnIndex)+1] = append(want[uint64(c.ConnIndex)+1], fmt.Sprintf("%s %d → %d", c.Method, c.Code, c.Status()))
	}

	golden, err := os.ReadFile(filepath.Join(goldenDir, "session.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64][]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(golden)), "\n") {
		var ev struct {
			Event   string
			Conn    uint64
			Code    uint32
			Command string
			Status  uint32
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Event != "pair" {
			continue
		}
		got[ev.Conn] = append(got[ev.Conn], fmt.Sprintf("%d → %d", ev.Code, ev.Status))
	}
	if len(got) != len(want) {
		t.Fatalf("golden has pairs on %d connections, the workload used %d", len(got), len(want))
	}
	for conn, calls := range want {
		pairs := got[conn]
		if len(pairs) != len(calls) {
			t.Errorf("conn %d: %d pairs in the golden output, %d calls in the workload", conn, len(pairs), len(calls))
		}
		for i := range min(len(pairs), len(calls)) {
			if !strings.HasSuffix(calls[i], " "+pairs[i]) {
				t.Errorf("conn %d exchange %d: golden %s, workload %s", conn, i+1, pairs[i], calls[i])
			}
		}
	}
}
