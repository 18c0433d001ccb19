package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/workload"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

// capturedToken recovers the personal access token the server generated
// when the capture was made, straight from the bytes of the capture, without
// iggytrace's decoder: it reassembles each connection's server → client
// stream by sequence number, follows the classic framing of both
// directions, and reads the Str8 token of the OK response to the first
// CreatePersonalAccessToken (code 42) request.
func capturedToken(t *testing.T) string {
	t.Helper()
	f, err := os.Open(sessionPcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcapfile.NewReader(f, pcapfile.Config{})
	if err != nil {
		t.Fatal(err)
	}
	type stream struct {
		isn  uint32
		data []byte
	}
	streams := map[decoder.ConnKey]*[2]stream{}
	var keys []decoder.ConnKey
	var seg decoder.Segment
	for {
		if err := rd.Next(&seg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		s := streams[seg.Key]
		if s == nil {
			s = new([2]stream)
			streams[seg.Key] = s
			keys = append(keys, seg.Key)
		}
		d := &s[seg.Dir]
		if seg.Flags&decoder.SYN != 0 {
			d.isn = seg.Seq + 1
			continue
		}
		if seg.Len == 0 {
			continue
		}
		if off := int(seg.Seq - d.isn); off != len(d.data) {
			t.Fatalf("capture not in order at offset %d", off)
		}
		d.data = append(d.data, seg.Data...)
	}
	for _, k := range keys {
		s := streams[k]
		req, resp := s[decoder.ToServer].data, s[decoder.ToClient].data
		for len(req) >= 8 && len(resp) >= 8 {
			length, code := binary.LittleEndian.Uint32(req), binary.LittleEndian.Uint32(req[4:])
			status, rlen := binary.LittleEndian.Uint32(resp), binary.LittleEndian.Uint32(resp[4:])
			payload := resp[8 : 8+rlen]
			if code == 42 && status == 0 {
				n := int(payload[0])
				if n == 0 || 1+n != len(payload) {
					t.Fatalf("CreatePersonalAccessToken response %q is not a Str8", payload)
				}
				return string(payload[1:])
			}
			req, resp = req[4+length:], resp[8+rlen:]
		}
	}
	t.Fatal("no CreatePersonalAccessToken answered OK in the capture")
	return ""
}

// leakForms returns the ways a secret could appear in output: as is, in
// other casing, in hex, and in base64 (standard and URL alphabets, padded
// or not, and at each of the three alignments it could have inside a
// longer encoded blob such as a --payloads message body).
func leakForms(secret string) []string {
	forms := []string{secret, strings.ToLower(secret), strings.ToUpper(secret),
		hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret)))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		forms = append(forms, enc.EncodeToString([]byte(secret)))
		for shift := range 3 {
			// With shift bytes before it, the secret's encoding starts at
			// the next 4-character group; keep the groups it fully covers.
			e := enc.EncodeToString(append(make([]byte, shift), secret...))
			start := 0
			if shift > 0 {
				start = 4
			}
			if end := 4 * ((shift + len(secret)) / 3); end > start {
				forms = append(forms, e[start:end])
			}
		}
	}
	slices.Sort(forms)
	return slices.Compact(forms)
}

// TestSecretsNeverLeave decodes the session in every output mode, stderr
// included (with --log-level debug), and looks for every secret the
// workload put on the wire: the fixed passwords and tokens of
// internal/workload and the personal access token the server generated,
// recovered from the capture's raw bytes. None may appear in any form.
func TestSecretsNeverLeave(t *testing.T) {
	secrets := workload.Secrets(nil)
	token := capturedToken(t)
	if len(token) < 16 {
		t.Fatalf("recovered token %q is too short to be one", token)
	}
	secrets = append(secrets, token)

	// The secrets really are in the capture: the grep below means something.
	raw, err := os.ReadFile(sessionPcap)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if !bytes.Contains(raw, []byte(s)) {
			t.Fatalf("secret %q is not in the capture", s)
		}
	}

	for _, args := range [][]string{
		{"-o", "json"},
		{"-o", "text"},
		{"-o", "json", "--payloads"},
		{"-o", "text", "--payloads"},
		{"-o", "json", "--log-level", "debug"},
		{"-o", "text", "--log-level", "debug", "--payloads"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr := runCLI(t, append([]string{"read", "--progress", "never", sessionPcap}, args...)...)
			if !strings.Contains(stdout, "CreatePersonalAccessToken") || !strings.Contains(stdout, "LoginWithPersonalAccessToken") {
				t.Fatal("the output lacks the token exchanges: nothing was checked")
			}
			out := stdout + "\n" + stderr
			for _, s := range secrets {
				for _, form := range leakForms(s) {
					if i := strings.Index(out, form); i >= 0 {
						t.Errorf("secret %q leaks as %q: …%s…", s, form, out[max(0, i-80):min(len(out), i+len(form)+20)])
					}
				}
			}
			if args[1] == "json" {
				checkRedactedJSON(t, stdout)
			}
		})
	}
}

// checkRedactedJSON checks that every password or token field of every
// decoded payload is "[REDACTED]", with no length beside it.
func checkRedactedJSON(t *testing.T, out string) {
	t.Helper()
	seen := 0
	var walk func(v any, name string)
	walk = func(v any, name string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, name)
			}
		default:
			if strings.Contains(name, "password") || name == "token" {
				seen++
				if v != "[REDACTED]" {
					t.Errorf("field %q = %v, want \"[REDACTED]\"", name, v)
				}
			}
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		walk(ev["request"], "")
		walk(ev["response"], "")
	}
	// 6 logins with a password, 2 CreateUser, 2 ChangePassword (2 each),
	// 2 logins with a token, 1 token created.
	if seen != 4+2+4+2+1 {
		t.Errorf("%d secret fields redacted, want 13", seen)
	}
}

// TestLeakForms checks the checker: a secret inside a longer blob, at any
// offset, encoded in any of the forms, is found.
func TestLeakForms(t *testing.T) {
	const secret = "s3cr3t-Passw0rd!"
	forms := leakForms(secret)
	found := func(out string) bool {
		return slices.ContainsFunc(forms, func(f string) bool { return strings.Contains(out, f) })
	}
	for pre := range 5 {
		blob := append(append([]byte(strings.Repeat("x", pre)), secret...), "tail"...)
		for _, out := range []string{
			string(blob), strings.ToUpper(string(blob)), hex.EncodeToString(blob),
			base64.StdEncoding.EncodeToString(blob), base64.RawURLEncoding.EncodeToString(blob),
		} {
			if !found(out) {
				t.Errorf("secret at offset %d not found in %q", pre, out)
			}
		}
	}
	if found("[REDACTED] s3cr3t-Passw0rd") {
		t.Error("a prefix of the secret counts as the secret")
	}
}
