package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// deployFiles are the dashboard and the alert rules under deploy/.
var deployFiles = []string{
	"../../deploy/grafana/dashboards/concertd.json",
	"../../deploy/prometheus/alerts.yml",
}

// seriesName finds the concertd series a PromQL expression names.
var seriesName = regexp.MustCompile(`\bconcertd_[a-z0-9_]+`)

// TestDeploySeriesExist: every series the Grafana dashboard and the Prometheus
// rules use is one a running concertd exports on /metrics (a histogram's _bucket,
// _sum and _count included). A renamed metric breaks this test, not a dashboard
// nobody looks at until the night of a sale.
func TestDeploySeriesExist(t *testing.T) {
	in, _, c, ctx := startClient(t)
	if _, _, err := c.Concert(ctx, 10, 1000, 100, 1000); err != nil { // per-concert series exist once a concert does
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, "GET", "/api/concerts", nil); err != nil { // a request series
		t.Fatal(err)
	}
	resp, err := http.Get(in.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	exported := map[string]bool{}
	for name, f := range families {
		exported[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[name+s] = true
			}
		}
	}
	for _, file := range deployFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := seriesName.FindAllString(string(b), -1)
		if len(names) == 0 {
			t.Fatalf("%s names no concertd series", file)
		}
		slices.Sort(names)
		for _, n := range slices.Compact(names) {
			if !exported[n] {
				t.Errorf("%s uses %s, which concertd does not export", filepath.Base(file), n)
			}
		}
	}
}

// TestDeployRulesValid runs promtool check rules on the alert rules where
// promtool is installed (Debian's prometheus package).
func TestDeployRulesValid(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed: .ci/run installs Debian's prometheus package")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	out, err := exec.Command(promtool, "check", "rules", "../../deploy/prometheus/alerts.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
