package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/concertd/concertd/engine"
)

// TestEmbeddedBanner runs `make run`'s mode and follows what it prints: every
// address on the banner answers 200 (the API's with the demo concert in it), and
// the printed admin key opens the operator endpoints. The banner is the first
// thing a new user reads; a page it names must be there.
func TestEmbeddedBanner(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	m := &Main{Config: Config{Embedded: true, Addr: "127.0.0.1:0", LogLevel: "error",
		Config: engine.DefaultConfig()}, Out: &out}
	startMain(t, m)

	banner := out.String()
	// A label, then an address alone on its line (the curl lines are examples).
	pages := regexp.MustCompile(`(?m)^  [a-zA-Z ]+?\s{2,}(http://\S+)`).FindAllStringSubmatch(banner, -1)
	if len(pages) < 5 {
		t.Fatalf("banner names %d addresses, want the buyer page, operators, docs, API and health:\n%s", len(pages), banner)
	}
	for _, p := range pages {
		resp, err := http.Get(p[1])
		if err != nil {
			t.Fatalf("%s: %v", p[1], err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", p[1], resp.StatusCode)
		}
	}
	key := regexp.MustCompile(`admin key\s+([0-9a-f]+)`).FindStringSubmatch(banner)
	if key == nil {
		t.Fatalf("no admin key on the banner:\n%s", banner)
	}
	req, _ := http.NewRequest("GET", "http://"+m.Addr+"/api/admin/concerts/1/stats", nil)
	req.Header.Set("X-Admin-Key", key[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the printed admin key: stats answered %d, want 200", resp.StatusCode)
	}
	if !strings.Contains(banner, "/ops") {
		t.Errorf("the banner does not name the operator page:\n%s", banner)
	}
}
