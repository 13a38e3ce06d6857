package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	concertd "github.com/concertd/concertd/client"
	"github.com/concertd/concertd/test/rushtest"
)

// client is one concertd as the load driver sees it: the client/ package (api)
// over fasthttp connections, every answer's latency and status recorded under
// its route in stats, and at most `concurrency` requests in flight.
type client struct {
	api      *concertd.Client
	addr     string
	adminKey string
	stats    *recorder
}

func newClient(addr, adminKey string, concurrency int, rec *recorder) *client {
	cl := &client{addr: addr, adminKey: adminKey, stats: rec}
	tr := &fastTransport{
		hc: &fasthttp.HostClient{
			Addr:                addr,
			MaxConns:            concurrency + 8,
			ReadTimeout:         15 * time.Second,
			WriteTimeout:        15 * time.Second,
			MaxIdleConnDuration: time.Minute,
			MaxConnWaitTimeout:  30 * time.Second,
		},
		timeout: 15 * time.Second,
		slots:   make(chan struct{}, concurrency),
	}
	cl.api = concertd.New("http://"+addr, concertd.WithHTTPClient(&http.Client{Transport: tr}), concertd.WithAdminKey(adminKey),
		concertd.WithObserver(func(o concertd.Observation) {
			code := o.Code
			if o.Status == 0 {
				code = "TRANSPORT"
			}
			cl.stats.record(o.Route, o.Took, o.Status, code)
		}))
	return cl
}

// fastTransport sends net/http requests over fasthttp's client, because the load
// generator shares the machine with the server: net/http's transport costs
// noticeably more CPU per request. A request waits for one of the slots (bounding
// the requests in flight across every user goroutine) only while its context
// lives; once sent, it is always awaited, so the report never loses an outcome.
type fastTransport struct {
	hc      *fasthttp.HostClient
	timeout time.Duration
	slots   chan struct{}
}

func (t *fastTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case t.slots <- struct{}{}:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	defer func() { <-t.slots }()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.String())
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		req.SetBodyRaw(b)
	}
	if err := t.hc.DoTimeout(req, resp, t.timeout); err != nil {
		return nil, err
	}
	h := http.Header{}
	for k, v := range resp.Header.All() {
		h.Add(string(k), string(v))
	}
	body := append([]byte(nil), resp.Body()...)
	return &http.Response{StatusCode: resp.StatusCode(), Header: h, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r}, nil
}

// answer is one HTTP answer: the status, the body and the contract's error code
// when the status is not 2xx.
type answer struct {
	Status int
	Body   []byte
	Code   string
}

func (a answer) ok() bool { return a.Status >= 200 && a.Status < 300 }

// errTransport is a request that got no HTTP answer at all.
var errTransport = errors.New("no answer")

// call is one raw request, for what the typed client does not cover (GET
// /metrics) or where the caller reads the answer itself.
type call struct {
	endpoint string // name in the report, e.g. "POST /api/reservations"
	method   string
	path     string
	token    string
	admin    bool
	body     any // marshalled with encoding/json; nil for none
	idemKey  string
}

// do sends c once and returns its answer.
func (cl *client) do(ctx context.Context, c call) (answer, error) {
	r := &concertd.Request{Method: c.method, Path: c.path, Route: c.endpoint, Header: http.Header{}}
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.admin {
		r.Header.Set("X-Admin-Key", cl.adminKey)
	}
	if c.idemKey != "" {
		r.Header.Set("Idempotency-Key", c.idemKey)
	}
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return answer{}, err
		}
		r.Body = b
	}
	a, err := cl.api.Send(ctx, r)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w: %v", c.method, c.path, errTransport, err)
	}
	out := answer{Status: a.Status, Body: a.Body}
	if !out.ok() {
		out.Code = concertd.CodeOf(a.Err())
	}
	return out, nil
}

// decode reads a 2xx answer into v, or returns an error naming the status and code.
func (a answer) decode(v any) error {
	if !a.ok() {
		return fmt.Errorf("HTTP %d %s: %s", a.Status, a.Code, truncate(a.Body, 200))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(a.Body, v)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// callJSON runs one call and decodes its JSON answer into a T; what names the call
// in a decode error.
func callJSON[T any](ctx context.Context, cl *client, c call, what string) (T, error) {
	var v T
	a, err := cl.do(ctx, c)
	if err != nil {
		return v, err
	}
	if err := a.decode(&v); err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// callAnswer runs one call whose refusals the caller handles itself: it returns the
// answer, and a T decoded from it only when the answer is a success.
func callAnswer[T any](ctx context.Context, cl *client, c call) (T, answer, error) {
	var v T
	a, err := cl.do(ctx, c)
	if err != nil {
		return v, a, err
	}
	if a.ok() {
		err = a.decode(&v)
	}
	return v, a, err
}

// forEach runs f(i) for i in [0, n) on `workers` goroutines and returns the first error.
var forEach = rushtest.ForEach

// sleepCtx waits d or until ctx ends.
var sleepCtx = rushtest.Sleep
