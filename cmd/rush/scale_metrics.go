// What concertd says: its /metrics, and a forced GC through pprof.

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// forceGC has concertd collect garbage through its pprof endpoint (the heap profile
// with gc=1), when -pprof is set; it reports whether it did.
func (s *scaleRun) forceGC(ctx context.Context) (bool, error) {
	if s.cfg.pprof == "" {
		return false, nil
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.cfg.pprof+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("force GC: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("force GC: %s", resp.Status)
	}
	return true, nil
}

// metrics scrapes concertd's /metrics and returns the unlabelled samples by name.
func (s *scaleRun) metrics(ctx context.Context) (map[string]float64, error) {
	a, err := s.fill.do(ctx, call{endpoint: "GET /metrics", method: "GET", path: "/metrics"})
	if err != nil {
		return nil, err
	}
	if !a.ok() {
		return nil, fmt.Errorf("GET /metrics: HTTP %d", a.Status)
	}
	m, err := parsePromText(a.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "process_cpu_seconds_total"} {
		if _, ok := m[name]; !ok {
			return nil, fmt.Errorf("GET /metrics: no %s", name)
		}
	}
	return m, nil
}

// parsePromText reads the unlabelled samples of a Prometheus text exposition
// (counters, gauges and untyped series) by name.
func parsePromText(body []byte) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) > 0 {
				continue
			}
			switch {
			case m.Gauge != nil:
				out[name] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[name] = m.GetCounter().GetValue()
			case m.Untyped != nil:
				out[name] = m.GetUntyped().GetValue()
			}
		}
	}
	return out, nil
}
