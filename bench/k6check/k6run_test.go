package k6check

// k6run: a small k6-compatible runtime for the scripts in bench/k6, so the tests
// can run them against a real server. k6 itself is AGPL and is not used here, so
// without this those scripts would ship never having sent a request. It provides
// what the scripts use and no more: their import/export lines rewritten to plain
// assignments, k6/http (synchronous, like k6's), k6 (check, sleep, fail, group),
// k6/data's SharedArray, k6/execution, k6/metrics, open, __ENV, __VU, __ITER,
// setup(data), and thresholds evaluated at the end. It checks that a script
// speaks the API, not how fast: iteration counts come from the test, and sleeps
// are scaled down.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// k6Plan is how a script runs. Zero VUs or Iterations take the script's own
// shared-iterations or per-vu-iterations scenario; a duration-based scenario
// (constant-vus, constant-arrival-rate) needs both from the test.
type k6Plan struct {
	VUs, Iterations int
	Env             map[string]string
	SleepScale      float64       // a script's sleep(s) waits s*SleepScale seconds
	Timeout         time.Duration // the whole run; running iterations are interrupted
}

// k6Sample is one value of a metric with the tags it was recorded with.
type k6Sample struct {
	v    float64
	tags map[string]string
}

// k6Threshold is one threshold expression and what it evaluated to.
type k6Threshold struct {
	Metric, Expr, Kind string
	Value              float64
	OK                 bool
}

// k6Result is what a run recorded.
type k6Result struct {
	Iterations int
	Errors     []string          // iterations that threw
	Checks     map[string][2]int // check name -> passes, fails
	Thresholds []k6Threshold
	kinds      map[string]string // metric name -> counter, rate, trend, gauge
	samples    map[string][]k6Sample
}

// Count is the sum of a counter (or the number of samples of any metric).
func (r *k6Result) Count(metric string) float64 {
	sum := 0.0
	for _, s := range r.samples[metric] {
		if r.kinds[metric] == "counter" {
			sum += s.v
		} else {
			sum++
		}
	}
	return sum
}

// Rate is the share of non-zero samples of a rate metric.
func (r *k6Result) Rate(metric string) float64 {
	v, _ := k6Aggregate("rate", r.values(metric, nil))
	return v
}

func (r *k6Result) values(metric string, filter map[string]string) []float64 {
	var vs []float64
	for _, s := range r.samples[metric] {
		match := true
		for k, v := range filter {
			if s.tags[k] != v {
				match = false
			}
		}
		if match {
			vs = append(vs, s.v)
		}
	}
	return vs
}

// k6Recorder collects metrics and checks from every VU.
type k6Recorder struct {
	mu  sync.Mutex
	res k6Result
}

func (rec *k6Recorder) declare(name, kind string) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if k, ok := rec.res.kinds[name]; ok && k != kind {
		return fmt.Errorf("metric %s is a %s, declared again as a %s", name, k, kind)
	}
	rec.res.kinds[name] = kind
	return nil
}

func (rec *k6Recorder) add(name string, v float64, tags map[string]string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.res.samples[name] = append(rec.res.samples[name], k6Sample{v, tags})
}

func (rec *k6Recorder) check(name string, ok bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	c := rec.res.Checks[name]
	if ok {
		c[0]++
	} else {
		c[1]++
	}
	rec.res.Checks[name] = c
	rec.res.samples["checks"] = append(rec.res.samples["checks"], k6Sample{b2f(ok), map[string]string{"check": name}})
}

func (rec *k6Recorder) fail(format string, args ...any) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.res.Errors = append(rec.res.Errors, fmt.Sprintf(format, args...))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// k6Prelude defines the k6 modules in each VU's runtime, over the Go functions
// that newK6VU installs (the __ names).
const k6Prelude = `
var exports = {};
const __metricClass = (kind) => function (name) {
  __metric(name, kind);
  this.name = name;
  this.add = (v, tags) => __add(name, kind, v, tags || {});
};
const __exec = { scenario: { name: 'default', iterationInTest: 0 }, vu: { idInTest: __VU, iterationInScenario: 0 } };
const __http = (() => {
  const req = (method, url, body, params) =>
    __request(method, url, body === undefined || body === null ? null : String(body), params || {});
  return {
    request: req,
    get: (u, p) => req('GET', u, null, p),
    head: (u, p) => req('HEAD', u, null, p),
    del: (u, b, p) => req('DELETE', u, b, p),
    post: (u, b, p) => req('POST', u, b, p),
    put: (u, b, p) => req('PUT', u, b, p),
    patch: (u, b, p) => req('PATCH', u, b, p),
    expectedStatuses: (...s) => ({ __expected: s }),
    setResponseCallback: (cb) => __setExpected(cb ? cb.__expected : null),
  };
})();
const __modules = {
  'k6': { check: __check, sleep: __sleep, fail: (m) => { throw new Error(m); }, group: (n, f) => f() },
  'k6/http': __http,
  'k6/data': { SharedArray: function (name, fn) { return Object.freeze(fn()); } },
  'k6/execution': __exec,
  'k6/metrics': { Counter: __metricClass('counter'), Rate: __metricClass('rate'), Trend: __metricClass('trend'), Gauge: __metricClass('gauge') },
};
function __import(name) {
  if (!(name in __modules)) throw new Error('k6run does not provide module ' + name);
  return __modules[name];
}
function __response(status, body, headers, duration, error) {
  return {
    status, body, headers, error, timings: { duration },
    json(path) {
      let v = JSON.parse(this.body);
      if (path !== undefined) {
        for (const p of String(path).split('.')) {
          if (v === null || v === undefined) return undefined;
          v = v[p];
        }
      }
      return v;
    },
  };
}
`

var k6ModuleLines = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`(?m)^import (\w+) from '([^']+)';$`), "const $1 = __import('$2');"},
	{regexp.MustCompile(`(?m)^import \{([^}]+)\} from '([^']+)';$`), "const {$1} = __import('$2');"},
	{regexp.MustCompile(`(?m)^export const (\w+) =`), "const $1 = exports.$1 ="},
	{regexp.MustCompile(`(?m)^export function (\w+)`), "exports.$1 = function $1"},
	{regexp.MustCompile(`(?m)^export default function`), "exports.default = function"},
}

var k6LeftoverModule = regexp.MustCompile(`(?m)^\s*(import|export)\b.*$`)

// k6Source rewrites a script's ES module lines into assignments on exports.
func k6Source(src string) (string, error) {
	for _, l := range k6ModuleLines {
		src = l.re.ReplaceAllString(src, l.repl)
	}
	if m := k6LeftoverModule.FindString(src); m != "" {
		return "", fmt.Errorf("k6run cannot rewrite %q", strings.TrimSpace(m))
	}
	return src, nil
}

// k6VU is one virtual user: its own runtime (a goja.Runtime is not safe for
// concurrent use), its own expected statuses, and the script's exports.
type k6VU struct {
	rt       *goja.Runtime
	exports  *goja.Object
	expected [][2]int
}

func newK6VU(id int, script, src string, plan k6Plan, rec *k6Recorder, client *http.Client) (*k6VU, error) {
	vu := &k6VU{rt: goja.New(), expected: [][2]int{{200, 399}}}
	rt := vu.rt
	throw := func(err error) { panic(rt.NewGoError(err)) }
	env := rt.NewObject()
	for k, v := range plan.Env {
		_ = env.Set(k, v)
	}
	must := func(err error) {
		if err != nil {
			panic(err) // only Set on a fresh runtime's global object, which cannot fail
		}
	}
	must(rt.Set("__ENV", env))
	must(rt.Set("__VU", id))
	must(rt.Set("__ITER", 0))
	must(rt.Set("console", map[string]any{"log": func(args ...any) { fmt.Fprintln(os.Stderr, args...) }}))
	must(rt.Set("open", func(path string) string {
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(script), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			throw(err)
		}
		return string(b)
	}))
	must(rt.Set("__metric", func(name, kind string) {
		if err := rec.declare(name, kind); err != nil {
			throw(err)
		}
	}))
	must(rt.Set("__add", func(name, kind string, v goja.Value, tags map[string]string) {
		f := v.ToFloat()
		if kind == "rate" {
			f = b2f(v.ToBoolean())
		}
		rec.add(name, f, tags)
	}))
	must(rt.Set("__check", func(val goja.Value, sets *goja.Object, _ goja.Value) bool {
		all := true
		for _, name := range sets.Keys() {
			fn, ok := goja.AssertFunction(sets.Get(name))
			if !ok {
				throw(fmt.Errorf("check %q is not a function", name))
			}
			res, err := fn(goja.Undefined(), val)
			if err != nil {
				panic(err)
			}
			rec.check(name, res.ToBoolean())
			all = all && res.ToBoolean()
		}
		return all
	}))
	must(rt.Set("__sleep", func(seconds float64) {
		time.Sleep(time.Duration(seconds * plan.SleepScale * float64(time.Second)))
	}))
	must(rt.Set("__setExpected", func(statuses []any) {
		vu.expected = nil
		for _, s := range statuses {
			switch s := s.(type) {
			case int64:
				vu.expected = append(vu.expected, [2]int{int(s), int(s)})
			case map[string]any:
				lo, _ := s["min"].(int64)
				hi, _ := s["max"].(int64)
				vu.expected = append(vu.expected, [2]int{int(lo), int(hi)})
			default:
				throw(fmt.Errorf("expectedStatuses: %v is neither a status nor {min, max}", s))
			}
		}
	}))
	must(rt.Set("__request", func(method, url string, body goja.Value, params map[string]any) goja.Value {
		return vu.request(method, url, body, params, rec, client)
	}))
	if _, err := rt.RunString(k6Prelude); err != nil {
		return nil, fmt.Errorf("k6run prelude: %w", err)
	}
	vu.exports = rt.Get("exports").ToObject(rt)
	if _, err := rt.RunScript(filepath.Base(script), src); err != nil {
		return nil, fmt.Errorf("%s, init of VU %d: %w", script, id, err)
	}
	return vu, nil
}

// request sends one HTTP request and records k6's built-in HTTP metrics with the
// tags k6 gives them (name defaults to the URL, as in k6).
func (vu *k6VU) request(method, url string, body goja.Value, params map[string]any, rec *k6Recorder, client *http.Client) goja.Value {
	var rd io.Reader
	if !goja.IsNull(body) {
		rd = strings.NewReader(body.String())
	}
	tags := map[string]string{"name": url, "method": method}
	if t, ok := params["tags"].(map[string]any); ok {
		for k, v := range t {
			tags[k] = fmt.Sprint(v)
		}
	}
	status, text, headers, errText := 0, "", map[string]any{}, ""
	start := time.Now()
	req, err := http.NewRequest(method, url, rd)
	if err == nil {
		if h, ok := params["headers"].(map[string]any); ok {
			for k, v := range h {
				req.Header.Set(k, fmt.Sprint(v))
			}
		}
		var resp *http.Response
		if resp, err = client.Do(req); err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			status, text, err = resp.StatusCode, string(b), rerr
			for k := range resp.Header {
				headers[k] = resp.Header.Get(k)
			}
		}
	}
	if err != nil {
		status, errText = 0, err.Error()
	}
	ms := float64(time.Since(start)) / float64(time.Millisecond)
	tags["status"] = strconv.Itoa(status)
	expected := slices.ContainsFunc(vu.expected, func(r [2]int) bool { return status >= r[0] && status <= r[1] })
	rec.add("http_reqs", 1, tags)
	rec.add("http_req_duration", ms, tags)
	rec.add("http_req_failed", b2f(!expected), tags)
	mk, _ := goja.AssertFunction(vu.rt.Get("__response"))
	v, err := mk(goja.Undefined(), vu.rt.ToValue(status), vu.rt.ToValue(text), vu.rt.ToValue(headers), vu.rt.ToValue(ms), vu.rt.ToValue(errText))
	if err != nil {
		panic(err)
	}
	return v
}

// call runs an exported function of the script, if it exports it.
func (vu *k6VU) call(name string, args ...goja.Value) (goja.Value, bool, error) {
	fn, ok := goja.AssertFunction(vu.exports.Get(name))
	if !ok {
		return goja.Undefined(), false, nil
	}
	v, err := fn(goja.Undefined(), args...)
	return v, true, err
}

// k6Options is the part of a script's options that k6run reads.
type k6Options struct {
	Scenarios map[string]struct {
		Executor   string `json:"executor"`
		VUs        int    `json:"vus"`
		Iterations int    `json:"iterations"`
	} `json:"scenarios"`
	Thresholds map[string][]string `json:"thresholds"`
}

// runK6 runs the script at path as planned and returns what it recorded.
func runK6(ctx context.Context, path string, plan k6Plan) (*k6Result, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	src, err := k6Source(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if plan.Timeout == 0 {
		plan.Timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, plan.Timeout)
	defer cancel()
	rec := &k6Recorder{res: k6Result{Checks: map[string][2]int{}, kinds: map[string]string{
		"http_reqs": "counter", "http_req_duration": "trend", "http_req_failed": "rate", "checks": "rate", "iterations": "counter",
	}, samples: map[string][]k6Sample{}}}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()

	vu0, err := newK6VU(0, path, src, plan, rec, client)
	if err != nil {
		return nil, err
	}
	var opts k6Options
	if o := vu0.exports.Get("options"); o != nil {
		b, err := json.Marshal(o.Export())
		if err == nil {
			err = json.Unmarshal(b, &opts)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: options: %w", path, err)
		}
	}
	vus, iterations, err := opts.plan(plan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data := "undefined"
	if v, ok, err := vu0.call("setup"); err != nil {
		return nil, fmt.Errorf("%s: setup: %w", path, err)
	} else if ok && !goja.IsUndefined(v) {
		b, err := json.Marshal(v.Export())
		if err != nil {
			return nil, fmt.Errorf("%s: setup data: %w", path, err)
		}
		data = string(b)
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	var initErr atomic.Value
	for id := 1; id <= vus; id++ {
		wg.Go(func() {
			vu, err := newK6VU(id, path, src, plan, rec, client)
			if err != nil {
				initErr.CompareAndSwap(nil, err)
				return
			}
			stop := context.AfterFunc(ctx, func() { vu.rt.Interrupt("k6run: timeout") })
			defer stop()
			arg, err := vu.rt.RunString("(" + data + ")")
			if err != nil {
				initErr.CompareAndSwap(nil, err)
				return
			}
			exec := vu.rt.Get("__exec").ToObject(vu.rt)
			for iter := 0; ctx.Err() == nil; iter++ {
				i := next.Add(1) - 1
				if i >= int64(iterations) {
					return
				}
				_ = vu.rt.Set("__ITER", iter)
				_ = exec.Get("scenario").ToObject(vu.rt).Set("iterationInTest", i)
				_ = exec.Get("vu").ToObject(vu.rt).Set("iterationInScenario", iter)
				if _, _, err := vu.call("default", arg); err != nil {
					rec.fail("VU %d iteration %d: %v", id, iter, err)
				}
				rec.add("iterations", 1, nil)
			}
		})
	}
	wg.Wait()
	if err, _ := initErr.Load().(error); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		rec.fail("run stopped after %v: %v", plan.Timeout, ctx.Err())
	}
	res := &rec.res
	res.Iterations = int(res.Count("iterations"))
	res.Thresholds, err = opts.evaluate(res)
	return res, err
}

// plan picks the VUs and iterations: the test's, else the script's scenario's.
func (o k6Options) plan(p k6Plan) (vus, iterations int, err error) {
	if len(o.Scenarios) > 1 {
		return 0, 0, fmt.Errorf("k6run runs one scenario, the script has %d", len(o.Scenarios))
	}
	vus, iterations = p.VUs, p.Iterations
	for _, s := range o.Scenarios {
		switch s.Executor {
		case "shared-iterations":
			vus, iterations = orScript(vus, s.VUs), orScript(iterations, s.Iterations)
		case "per-vu-iterations":
			vus = orScript(vus, s.VUs)
			iterations = orScript(iterations, s.Iterations*vus)
		}
	}
	if vus <= 0 || iterations <= 0 {
		return 0, 0, fmt.Errorf("the scenario runs for a duration: give the VUs and iterations")
	}
	return vus, iterations, nil
}

// orScript is the test's value when it gave one, else the script's.
func orScript(test, script int) int {
	if test > 0 {
		return test
	}
	return script
}

var (
	k6MetricExpr    = regexp.MustCompile(`^(\w+)(?:\{([^}]*)\})?$`)
	k6ThresholdExpr = regexp.MustCompile(`^\s*(avg|min|max|med|count|rate|value|p\(\d+(?:\.\d+)?\))\s*(<=|>=|<|>|===|==|!=)\s*(-?[\d.]+)\s*$`)
)

// evaluate computes every threshold of the options over the recorded samples.
func (o k6Options) evaluate(res *k6Result) ([]k6Threshold, error) {
	var out []k6Threshold
	keys := make([]string, 0, len(o.Thresholds))
	for k := range o.Thresholds {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		m := k6MetricExpr.FindStringSubmatch(key)
		if m == nil {
			return nil, fmt.Errorf("threshold metric %q", key)
		}
		kind, ok := res.kinds[m[1]]
		if !ok {
			return nil, fmt.Errorf("threshold on %q: no such metric", key)
		}
		filter := map[string]string{}
		if m[2] != "" {
			for _, kv := range strings.Split(m[2], ",") {
				k, v, _ := strings.Cut(kv, ":")
				filter[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		for _, expr := range o.Thresholds[key] {
			e := k6ThresholdExpr.FindStringSubmatch(expr)
			if e == nil {
				return nil, fmt.Errorf("threshold %q on %s", expr, key)
			}
			vs := res.values(m[1], filter)
			agg := e[1]
			if kind == "counter" && agg == "count" {
				agg = "sum"
			}
			v, err := k6Aggregate(agg, vs)
			if err != nil {
				return nil, fmt.Errorf("threshold %q on %s: %w", expr, key, err)
			}
			want, _ := strconv.ParseFloat(e[3], 64)
			ok := map[string]bool{"<": v < want, "<=": v <= want, ">": v > want, ">=": v >= want,
				"==": v == want, "===": v == want, "!=": v != want}[e[2]]
			out = append(out, k6Threshold{Metric: key, Expr: expr, Kind: kind, Value: v, OK: ok})
		}
	}
	return out, nil
}

// k6Aggregate is k6's aggregation of one metric's values: percentiles by
// linear interpolation between the nearest ranks, as k6 computes them.
func k6Aggregate(agg string, vs []float64) (float64, error) {
	if len(vs) == 0 {
		return 0, nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	sum, nonzero := 0.0, 0
	for _, v := range s {
		sum += v
		if v != 0 {
			nonzero++
		}
	}
	switch {
	case agg == "avg":
		return sum / float64(len(s)), nil
	case agg == "min":
		return s[0], nil
	case agg == "max", agg == "value":
		return s[len(s)-1], nil
	case agg == "count":
		return float64(len(s)), nil
	case agg == "sum":
		return sum, nil
	case agg == "rate":
		return float64(nonzero) / float64(len(s)), nil
	case agg == "med":
		return k6Percentile(s, 50), nil
	case strings.HasPrefix(agg, "p("):
		p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(agg, "p("), ")"), 64)
		if err != nil {
			return 0, err
		}
		return k6Percentile(s, p), nil
	}
	return 0, fmt.Errorf("unknown aggregation %s", agg)
}

func k6Percentile(sorted []float64, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[lo+1]-sorted[lo])
}
