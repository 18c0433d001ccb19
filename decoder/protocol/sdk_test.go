package protocol_test

import (
	"testing"
)

func TestSDKExplore(t *testing.T) {
	exs := runSDKWorkload(t)
	for _, e := range exs {
		t.Logf("%v req err=%v", e, e.req.err)
		for _, p := range e.req.flat.order {
			t.Logf("   req %s = %+v", p, e.req.flat.vals[p])
			if len(e.req.flat.order) > 60 { break }
		}
		if e.resp != nil {
			t.Logf("   resp err=%v summary=%+v", e.resp.err, e.resp.sum)
			for i, p := range e.resp.flat.order {
				if i > 60 { break }
				t.Logf("   resp %s = %+v", p, e.resp.flat.vals[p])
			}
		}
		t.Logf("   req summary=%+v", e.req.sum)
	}
}
