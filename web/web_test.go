package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestNoOutsideReferences: the pages must run with no network beyond concertd,
// so no file may load anything by absolute URL (a CDN, a font, an analytics tag).
func TestNoOutsideReferences(t *testing.T) {
	err := fs.WalkDir(Files(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), name)
		if err != nil {
			return err
		}
		for _, bad := range []string{"http://", "https://", `src="//`, `href="//`} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReferencedFilesExist: every /web/ path a page or module names is embedded.
func TestReferencedFilesExist(t *testing.T) {
	ref := regexp.MustCompile(`"/web/([^"]+)"`)
	for _, name := range []string{"index.html", "ops.html", "buyer.js", "ops.js"} {
		b, err := fs.ReadFile(Files(), name)
		if err != nil {
			t.Fatalf("%s is not embedded: %v", name, err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			if _, err := fs.Stat(Files(), m[1]); err != nil {
				t.Errorf("%s references /web/%s, which is not embedded", name, m[1])
			}
		}
	}
}
