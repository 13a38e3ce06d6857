package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// client talks to one concertd over keep-alive connections and records every
// answer's latency and status under an endpoint name. It uses fasthttp's client
// because the load generator shares the machine with the server: net/http's
// client costs noticeably more CPU per request.
type client struct {
	hc       *fasthttp.HostClient
	adminKey string
	stats    *recorder
	timeout  time.Duration
	// slots bounds the requests in flight across every user goroutine.
	slots chan struct{}
}

func newClient(addr, adminKey string, concurrency int, rec *recorder) *client {
	return &client{
		hc: &fasthttp.HostClient{
			Addr:                addr,
			MaxConns:            concurrency + 8,
			ReadTimeout:         15 * time.Second,
			WriteTimeout:        15 * time.Second,
			MaxIdleConnDuration: time.Minute,
			MaxConnWaitTimeout:  30 * time.Second,
		},
		adminKey: adminKey,
		stats:    rec,
		timeout:  15 * time.Second,
		slots:    make(chan struct{}, concurrency),
	}
}

// answer is one HTTP answer: the status, the body (gunzipped) and the contract's
// error code when the status is not 2xx.
type answer struct {
	Status int
	Body   []byte
	Code   string
}

func (a answer) ok() bool { return a.Status >= 200 && a.Status < 300 }

// errTransport is a request that got no HTTP answer at all.
var errTransport = errors.New("no answer")

type call struct {
	endpoint string // name in the report, e.g. "POST /api/reservations"
	method   string
	path     string
	token    string
	admin    bool
	body     any // marshalled with encoding/json; nil for none
	gzip     bool
	idemKey  string
	// scan, if set, reads a 2xx body in place, before the response is released;
	// the answer then carries no Body. For seat maps: a 20,000-seat map is a
	// megabyte of JSON, and copying it for each of thousands of shoppers makes the
	// load driver's garbage collector, not the server, the limit.
	scan func(body []byte)
}

// gunzipBufs holds buffers for scanned bodies, so a megabyte seat map does not
// allocate a megabyte each time.
var gunzipBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// do sends c and waits for the answer, honouring ctx only while waiting for a slot:
// once sent, a request is always awaited so the report never loses an outcome.
func (cl *client) do(ctx context.Context, c call) (answer, error) {
	select {
	case cl.slots <- struct{}{}:
	case <-ctx.Done():
		return answer{}, ctx.Err()
	}
	defer func() { <-cl.slots }()

	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(c.method)
	req.SetRequestURI("http://" + cl.hc.Addr + c.path)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.admin {
		req.Header.Set("X-Admin-Key", cl.adminKey)
	}
	if c.idemKey != "" {
		req.Header.Set("Idempotency-Key", c.idemKey)
	}
	if c.gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return answer{}, err
		}
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(b)
	}
	start := time.Now()
	err := cl.hc.DoTimeout(req, resp, cl.timeout)
	took := time.Since(start)
	if err != nil {
		cl.stats.record(c.endpoint, took, 0, "TRANSPORT")
		return answer{}, fmt.Errorf("%s %s: %w: %v", c.method, c.path, errTransport, err)
	}
	a := answer{Status: resp.StatusCode()}
	if c.scan != nil && a.ok() {
		body := resp.Body()
		if string(resp.Header.ContentEncoding()) == "gzip" {
			bp := gunzipBufs.Get().(*[]byte)
			defer gunzipBufs.Put(bp)
			if *bp, err = fasthttp.AppendGunzipBytes((*bp)[:0], body); err == nil {
				body = *bp
			}
		}
		c.scan(body)
		cl.stats.record(c.endpoint, took, a.Status, "")
		return a, nil
	}
	body, err := resp.BodyUncompressed()
	if err != nil {
		body = resp.Body()
	}
	a.Body = append([]byte(nil), body...)
	if !a.ok() {
		var e struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(a.Body, &e)
		a.Code = e.Code
		if a.Code == "" {
			a.Code = strconv.Itoa(a.Status)
		}
	}
	cl.stats.record(c.endpoint, took, a.Status, a.Code)
	return a, nil
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

// forEach runs f(i) for i in [0, n) on `workers` goroutines and returns the first error.
func forEach(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}
