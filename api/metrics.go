package api

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// metrics counts answers by route and status in plain atomics: the status poll
// runs this on every request, so it must take no lock. This is a stop-gap until
// the Prometheus client replaces it; the exposition is the text format by hand.
type metrics struct {
	mu     sync.Mutex // guards routes while routes are registered
	routes []*routeStats
}

// routeStats holds one counter per possible status code, indexed by status-100.
type routeStats struct {
	method, path string
	byStatus     [500]atomic.Uint64
}

func newMetrics() *metrics { return &metrics{} }

func (m *metrics) route(method, path string) *routeStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := &routeStats{method: method, path: path}
	m.routes = append(m.routes, rs)
	return rs
}

func (rs *routeStats) count(status int) {
	if status < 100 || status > 599 {
		status = 500
	}
	rs.byStatus[status-100].Add(1)
}

func (s *Server) serveMetrics(_ context.Context, rc *fasthttp.RequestCtx) error {
	s.metrics.mu.Lock()
	routes := s.metrics.routes
	s.metrics.mu.Unlock()
	b := make([]byte, 0, 4096)
	b = append(b, "# HELP concertd_http_requests_total HTTP requests answered, by route and status.\n"...)
	b = append(b, "# TYPE concertd_http_requests_total counter\n"...)
	for _, rs := range routes {
		for i := range rs.byStatus {
			n := rs.byStatus[i].Load()
			if n == 0 {
				continue
			}
			b = append(b, `concertd_http_requests_total{method="`...)
			b = append(b, rs.method...)
			b = append(b, `",route="`...)
			b = append(b, rs.path...)
			b = append(b, `",status="`...)
			b = strconv.AppendInt(b, int64(i+100), 10)
			b = append(b, `"} `...)
			b = strconv.AppendUint(b, n, 10)
			b = append(b, '\n')
		}
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	rc.Response.SetBodyRaw(b)
	return nil
}
