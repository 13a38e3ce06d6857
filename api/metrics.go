package api

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/concertd/concertd/engine"
)

// metrics is the Prometheus registry of one Server. It is per Server, not the
// global default, so tests that start many servers in one process never share or
// double-register series.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	payments *prometheus.CounterVec
	serve    fasthttp.RequestHandler
}

// latencyBuckets start below a millisecond: the status poll usually answers in
// tens of microseconds, and the default buckets would put every request in the first.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// newMetrics registers the request metrics and, for a non-nil e, the engine's
// per-concert counts read at scrape time.
func newMetrics(e *engine.Engine, outboxLag func(context.Context) (time.Duration, error)) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "concertd", Name: "http_requests_total",
			Help: "HTTP requests answered, by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "concertd", Name: "http_request_duration_seconds",
			Help:    "Time from reading a request to its handler returning, by route.",
			Buckets: latencyBuckets,
		}, []string{"method", "route"}),
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "concertd", Name: "payments_total",
			Help: "Payment attempts by outcome: COMPLETED or the contract's error code.",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.payments,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// A series that exists at zero lets a dashboard tell "no failures" from "no data".
	m.payments.WithLabelValues(paymentCompleted)
	for _, op := range operations {
		if op.method == "POST" && op.path == "/api/payments" {
			for _, c := range op.errs {
				m.payments.WithLabelValues(string(c))
			}
		}
	}
	if e != nil {
		m.reg.MustRegister(&engineCollector{e: e, outboxLag: outboxLag})
	}
	m.serve = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return m
}

// routeStats is one route's share of the request metrics. Counters are resolved
// once per status and kept in atomics: the status poll counts on every request,
// and CounterVec.WithLabelValues would hash and lock each time.
type routeStats struct {
	method, path string
	requests     *prometheus.CounterVec
	latency      prometheus.Observer
	byStatus     [500]atomic.Pointer[counter] // index = status-100
}

type counter struct{ prometheus.Counter }

func (m *metrics) route(method, path string) *routeStats {
	return &routeStats{
		method:   method,
		path:     path,
		requests: m.requests,
		latency:  m.latency.WithLabelValues(method, path),
	}
}

func (rs *routeStats) count(status int) {
	if status < 100 || status > 599 {
		status = 500
	}
	c := rs.byStatus[status-100].Load()
	if c == nil {
		// Two first requests may both get here; WithLabelValues returns the same
		// counter to both, so the race only costs a lookup.
		c = &counter{rs.requests.WithLabelValues(rs.method, rs.path, strconv.Itoa(status))}
		rs.byStatus[status-100].Store(c)
	}
	c.Inc()
}

// observe counts a routed request and its latency. fasthttp stamps rc.Time once
// it has read the request, so the latency is ours alone, not the client's upload.
func (rs *routeStats) observe(rc *fasthttp.RequestCtx) {
	rs.count(rc.Response.StatusCode())
	rs.latency.Observe(time.Since(rc.Time()).Seconds())
}

func (s *Server) serveMetrics(_ context.Context, rc *fasthttp.RequestCtx) error {
	s.metrics.serve(rc)
	return nil
}

const paymentCompleted = "COMPLETED"

// countPayments records each payment's outcome by contract code, classified as
// writeError will answer it, so the metric and the client see the same code.
func (s *Server) countPayments(h handlerFunc) handlerFunc {
	return func(ctx context.Context, rc *fasthttp.RequestCtx) error {
		err := h(ctx, rc)
		s.metrics.payments.WithLabelValues(outcome(err)).Inc()
		return err
	}
}

func outcome(err error) string {
	if err == nil {
		return paymentCompleted
	}
	if errors.Is(err, engine.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return string(engine.CodeUnavailable)
	}
	if e, ok := asEngineError(err); ok {
		if _, known := statusOf[e.Code]; known {
			return string(e.Code)
		}
	}
	return string(engine.CodeInternal)
}

// maxScrapedConcerts bounds a scrape: each concert costs a few shared-state reads
// per schedule, and the newest concerts are the ones on sale.
const maxScrapedConcerts = 20

// engineScrapeTimeout keeps a slow Redis from holding a scrape past Prometheus's
// own timeout (10s by default).
const engineScrapeTimeout = 3 * time.Second

// series is one metric read from the engine at scrape time: of is its value in
// what the scrape read (engine.Stats of one concert, engine.Counters of this
// instance).
type series[T any] struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	of   func(T) int64
}

// concertSeries are the per-concert series, labelled by concert_id.
var concertSeries = []series[engine.Stats]{
	concertSeriesOf("concertd_concert_waiting", "Tokens waiting in the concert's line.", prometheus.GaugeValue, func(st engine.Stats) int64 { return st.Waiting }),
	concertSeriesOf("concertd_concert_active", "Tokens admitted and active.", prometheus.GaugeValue, func(st engine.Stats) int64 { return st.Active }),
	concertSeriesOf("concertd_concert_seats_held", "Seats held and not yet paid.", prometheus.GaugeValue, func(st engine.Stats) int64 { return st.Held }),
	concertSeriesOf("concertd_concert_seats_sold", "Seats sold.", prometheus.GaugeValue, func(st engine.Stats) int64 { return st.Sold }),
	concertSeriesOf("concertd_concert_seats_total", "Seats over all the concert's schedules.", prometheus.GaugeValue, func(st engine.Stats) int64 { return st.SeatsTotal }),
	concertSeriesOf("concertd_admissions_total", "Tokens admitted from the waiting room since the sale began.", prometheus.CounterValue, func(st engine.Stats) int64 { return st.AdmittedTotal }),
}

func concertSeriesOf(name, help string, kind prometheus.ValueType, of func(engine.Stats) int64) series[engine.Stats] {
	return series[engine.Stats]{prometheus.NewDesc(name, help, []string{"concert_id"}, nil), kind, of}
}

// instanceCounters are this instance's counters, without labels.
var instanceCounters = []series[engine.Counters]{
	counterOf("concertd_payments_settled_from_ledger_total", "Holds left PAYING that the ledger said were sold and the sweeper marked sold.", func(n engine.Counters) int64 { return n.SettledFromLedger }),
	counterOf("concertd_polls_from_cache_total", "Queue status polls this instance answered from memory, within the contract's one-second lag on position.", func(n engine.Counters) int64 { return n.PollsFromCache }),
	counterOf("concertd_holds_refused_from_memory_total", "Seat holds this instance refused as SEAT_TAKEN, and best-available requests as SEATS_UNAVAILABLE, from its seat view, without asking Redis.", func(n engine.Counters) int64 { return n.HoldsRefusedHere }),
	counterOf("concertd_active_checks_ahead_total", "ACTIVE tokens this instance asked Redis about again in the background, before its word on them ran out (HOLD_CACHE_AGE).", func(n engine.Counters) int64 { return n.ActiveChecksAhead }),
}

func counterOf(name, help string, of func(engine.Counters) int64) series[engine.Counters] {
	return series[engine.Counters]{prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, of}
}

var (
	descScrapeOK  = prometheus.NewDesc("concertd_engine_scrape_success", "1 if the engine's counts were read in full on this scrape.", nil, nil)
	descExpiries  = prometheus.NewDesc("concertd_hold_expiries_total", "Expired holds freed by this instance, by the path that found them (listener: keyspace expiry hint; sweeper: periodic sweep).", []string{"path"}, nil)
	descOutboxLag = prometheus.NewDesc("concertd_outbox_lag_seconds", "Age of the oldest payment event not yet relayed to the Redis stream (0 when none).", nil, nil)
	descUp        = prometheus.NewDesc("concertd_dependency_up", "1 if the dependency answered a ping on this scrape (dependency: redis or database), as /readyz asks.", []string{"dependency"}, nil)
)

// engineCollector reads engine.Stats at scrape time, so the request path pays
// nothing for these series and every instance reports the shared truth.
type engineCollector struct {
	e         *engine.Engine
	outboxLag func(context.Context) (time.Duration, error) // nil without a ledger outbox
	// One scrape at a time: concurrent scrapers would multiply the Redis reads.
	mu sync.Mutex
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range concertSeries {
		ch <- s.desc
	}
	for _, s := range instanceCounters {
		ch <- s.desc
	}
	for _, d := range []*prometheus.Desc{descScrapeOK, descExpiries, descOutboxLag, descUp} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), engineScrapeTimeout)
	defer cancel()
	ok := 1.0
	defer func() { ch <- prometheus.MustNewConstMetric(descScrapeOK, prometheus.GaugeValue, ok) }()
	n := c.e.Counters()
	ch <- prometheus.MustNewConstMetric(descExpiries, prometheus.CounterValue, float64(n.ExpiredByHint), "listener")
	ch <- prometheus.MustNewConstMetric(descExpiries, prometheus.CounterValue, float64(n.ExpiredBySweep), "sweeper")
	for _, s := range instanceCounters {
		ch <- prometheus.MustNewConstMetric(s.desc, s.kind, float64(s.of(n)))
	}
	up := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	redisUp, dbUp := c.e.Health(ctx)
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up(redisUp), "redis")
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up(dbUp), "database")
	if c.outboxLag != nil {
		if lag, err := c.outboxLag(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(descOutboxLag, prometheus.GaugeValue, lag.Seconds())
		} else {
			ok = 0
		}
	}
	concerts, err := c.e.Concerts(ctx)
	if err != nil {
		ok = 0
		return
	}
	// Closed concerts cost nothing more: their counts are no longer read.
	open := concerts[:0]
	for _, con := range concerts {
		if c.e.SaleOpen(con) {
			open = append(open, con)
		}
	}
	concerts = open
	// Concerts come by id, so the newest are last.
	if len(concerts) > maxScrapedConcerts {
		concerts = concerts[len(concerts)-maxScrapedConcerts:]
	}
	for _, con := range concerts {
		st, err := c.e.Stats(ctx, con.ID)
		if err != nil {
			ok = 0
			continue
		}
		id := strconv.FormatInt(con.ID, 10)
		for _, s := range concertSeries {
			ch <- prometheus.MustNewConstMetric(s.desc, s.kind, float64(s.of(st)), id)
		}
	}
}
