package otlp

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/iggytrace/iggytrace/export/audit"
)

// TestAuditParamsFilter: params are exported only when plain, and never
// under a secret field's name, whatever the trail hands over; strings from
// the wire are made valid UTF-8.
func TestAuditParamsFilter(t *testing.T) {
	st := uint32(0)
	r := audit.Record{
		Time: time.Unix(1, 0), Action: audit.ActionAdmin, Command: "CreateUser", Dotted: "user.create", Code: 33,
		Conn: 1, Client: "[::ffff:10.0.0.1]:4000", Server: "10.0.0.2:8090",
		User: "bad\xffname", Outcome: "OK", Status: &st, Success: true,
		Target: &audit.Target{User: "x\xfe"},
		Params: map[string]any{
			"username":         "alice",
			"password":         "hunter2",       // a secret field's name
			"new_password":     "hunter3",       // idem
			"token":            "t0k",           // idem
			"api_token_value":  "t1k",           // looks like one
			"blob":             []byte("bytes"), // not a plain value
			"nested":           map[string]any{"password": "x"},
			"status":           "active",
			"expiry":           uint64(1 << 63), // beyond int64
			"partitions_count": uint64(3),
			"at":               time.UnixMicro(5).In(time.FixedZone("X", 3600)),
		},
	}
	got := map[string]attribute.Value{}
	for _, kv := range appendAuditAttrs(nil, &r) {
		if _, dup := got[string(kv.Key)]; dup {
			t.Errorf("attribute %s twice", kv.Key)
		}
		got[string(kv.Key)] = kv.Value
		if kv.Value.Type() == attribute.STRING && !utf8.ValidString(kv.Value.AsString()) {
			t.Errorf("%s: invalid UTF-8 %q", kv.Key, kv.Value.AsString())
		}
		for _, s := range []string{"hunter", "t0k", "t1k", "bytes"} {
			if strings.Contains(kv.Value.Emit(), s) {
				t.Errorf("%s = %q exported", kv.Key, kv.Value.Emit())
			}
		}
	}
	want := map[string]string{
		"iggy.audit.params.username":         "alice",
		"iggy.audit.params.status":           "active",
		"iggy.audit.params.expiry":           "9223372036854775808",
		"iggy.audit.params.partitions_count": "3",
		"iggy.audit.params.at":               "1970-01-01T00:00:00.000005Z",
		"iggy.audit.user":                    "bad\uFFFDname",
		"iggy.audit.target.user":             "x\uFFFD",
		"client.address":                     "10.0.0.1",
		"network.type":                       "ipv4",
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g.Emit() != w {
			t.Errorf("%s = %q, want %q", k, g.Emit(), w)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "iggy.audit.params.") {
			if _, ok := want[k]; !ok {
				t.Errorf("param attribute %s exported", k)
			}
		}
	}
}

// TestSecretNames: the names the params filter takes from the protocol
// table include every secret the docs list.
func TestSecretNames(t *testing.T) {
	for _, n := range []string{"password", "current_password", "new_password", "token"} {
		if !secretNames[n] {
			t.Errorf("%s is not among the protocol table's secret names %v", n, secretNames)
		}
	}
}
