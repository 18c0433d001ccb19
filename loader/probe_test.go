package loader

import (
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/internal/citest"
)

func TestProbe(t *testing.T) {
	r := Probe()
	var b strings.Builder
	if err := r.Format(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
	if err := r.CanCapture(); err != nil {
		citest.Need(t, err)
	}
	for _, typ := range []string{ProgCgroupSKB, ProgTCX, ProgTPBTF, ProgKprobe, ProgFentry} {
		p := r.Program(typ)
		if p == nil {
			t.Fatalf("no check for %s", typ)
		}
		if (!p.Loads || !p.Attaches) && p.Reason == "" {
			t.Errorf("%s: fails without a reason", typ)
		}
		if strings.Contains(p.Reason, "MEMLOCK") {
			t.Errorf("%s: reason repeats the memlock hint: %s", typ, p.Reason)
		}
	}
}
