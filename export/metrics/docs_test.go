package metrics_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/export/metrics"
)

// TestDocs: docs/metrics.md documents every iggytrace_* metric, and
// nothing else by that prefix; buckets as documented.
func TestDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{})
	for _, ev := range append(sessionEvents(t), anomalies()...) {
		m.Write(ev)
	}
	m.SetCaptureStats(func() metrics.CaptureStats { return metrics.CaptureStats{} })
	m.AddExporter("otlp", func() uint64 { return 0 })
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "iggytrace_") {
			continue
		}
		have[name] = true
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/metrics.md has no row for %s", name)
		}
	}
	for _, name := range regexp.MustCompile("`(iggytrace_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		if !have[name[1]] {
			t.Errorf("docs/metrics.md documents %s, which does not exist", name[1])
		}
	}
	if len(have) < 20 {
		t.Errorf("only %d iggytrace metrics gathered", len(have))
	}
	if b := metrics.DefaultBuckets(); b[0] != 10e-6 || b[len(b)-1] != 10 || len(b) != 19 {
		t.Errorf("DefaultBuckets %v", b)
	}
}
