package scripts

import (
	"io/fs"
	"strings"
	"testing"
)

// TestSourceSplicesIncludes: every script that names a helper gets the helper's
// text in place of the line, and no include line is left for Redis to see.
func TestSourceSplicesIncludes(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(FS, "*.lua")
	if err != nil || len(names) == 0 {
		t.Fatalf("scripts: %v, %v", names, err)
	}
	spliced := 0
	for _, n := range names {
		name := strings.TrimSuffix(n, ".lua")
		raw, src := read(n), Source(name)
		if strings.Contains(src, include) {
			t.Errorf("%s: an include line is left after splicing", name)
		}
		if strings.Contains(raw, include+"recount") {
			spliced++
			if !strings.Contains(src, "local function recount(") || strings.Count(src, "local function recount(") != 1 {
				t.Errorf("%s: recount is not spliced in exactly once", name)
			}
		}
	}
	if spliced < 6 {
		t.Errorf("%d scripts include recount; want the six seat scripts", spliced)
	}
}

func TestSourceMissingHelperPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("Source of a missing script did not panic")
		}
	}()
	Source("no-such-script")
}
