package workload

import (
	"reflect"
	"testing"

	"github.com/apache/iggy/foreign/go/client"
	"github.com/apache/iggy/foreign/go/client/tcp"
	iggcon "github.com/apache/iggy/foreign/go/contracts"
)

// TestHeartbeatDisabled pins the trick that keeps the SDK from sending
// unlogged Pings: withoutHeartbeat zeroes client.Options (heartbeat
// interval 0 = off) and client.WithTcp then restores the protocol. It reads
// the unexported fields by reflection so that an SDK upgrade that changes
// them fails here rather than as a flaky traffic mismatch.
func TestHeartbeatDisabled(t *testing.T) {
	opts := client.GetDefaultOptions()
	withoutHeartbeat(&opts)
	client.WithTcp(tcp.WithServerAddress("127.0.0.1:1"))(&opts)
	v := reflect.ValueOf(opts)
	if hb := v.FieldByName("heartbeatInterval"); !hb.IsValid() || hb.Int() != 0 {
		t.Fatalf("heartbeat interval field %v", hb)
	}
	if p := v.FieldByName("protocol"); !p.IsValid() || p.String() != string(iggcon.Tcp) {
		t.Fatalf("protocol field %v", p)
	}
}
