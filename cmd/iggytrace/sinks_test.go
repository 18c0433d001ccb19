package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestOTLPEndpointDown: with the OTLP endpoint unreachable, a decoded session
// still prints every event to stdout (the same bytes as the golden file),
// the audit trail is still written, and the summary's drop counters explain
// what was not exported.
func TestOTLPEndpointDown(t *testing.T) {
	// A port with nothing listening: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	stdout, stderr := runCLI(t, "read", sessionPcap, "-o", "json",
		"--otlp-endpoint", "http://"+addr, "--otlp-protocol", "http/protobuf", "--otlp-insecure",
		"--audit", auditPath)
	compareGolden(t, "session.jsonl", stdout)

	audit, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(audit), "\n"); n == 0 {
		t.Fatal("the audit trail is empty")
	}

	// The summary names the exporter and how much it could not deliver.
	m := regexp.MustCompile(`otlp: .*: (\d+) spans and (\d+) logs exported, (\d+) dropped`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no OTLP line in the summary:\n%s", stderr)
	}
	spans, _ := strconv.Atoi(m[1])
	logs, _ := strconv.Atoi(m[2])
	dropped, _ := strconv.Atoi(m[3])
	events := strings.Count(stdout, "\n")
	if spans != 0 || logs != 0 {
		t.Errorf("exported %d spans and %d logs to a closed port", spans, logs)
	}
	// Every exchange is a span and every event a log record; audit records
	// are log records too: all of them must be accounted as dropped.
	if dropped < events {
		t.Errorf("dropped %d, want at least one per event (%d)", dropped, events)
	}
}
