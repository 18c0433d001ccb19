// Package docsection keeps a generated section of a Markdown document
// current from a test: the section between two marker lines is compared
// with what the code says it should be, and rewritten with -update.
package docsection

import (
	"os"
	"strings"
	"testing"
)

// Check compares the text between the markers begin and end in the file
// path with body. With update it rewrites the section when it differs;
// otherwise a difference fails t, telling how to update (hint: the command
// to run).
func Check(t testing.TB, path, begin, end, body string, update bool, hint string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no generated section between %q and %q", path, begin, end)
	}
	fresh := text[:i+len(begin)] + "\n" + body + text[j:]
	if fresh == text {
		return
	}
	if update {
		if err := os.WriteFile(path, []byte(fresh), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the generated section is out of date; run %s", path, hint)
}
