package client

import (
	"bytes"
	"compress/gzip"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Client talks to one concertd deployment: one base URL, or several instances
// behind no load balancer (WithInstances), each request going to the next. It is
// safe for concurrent use.
type Client struct {
	bases    []string
	next     atomic.Uint64
	hc       *http.Client
	adminKey string
	// attempts is how many times a retryable request is sent at most; 0 means
	// until its context ends.
	attempts int
	maxWait  time.Duration
	observe  func(Observation)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (its transport, timeouts and connection
// limits). The default has a 15 s timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithAdminKey sets the X-Admin-Key the operator methods send.
func WithAdminKey(key string) Option { return func(c *Client) { c.adminKey = key } }

// WithInstances adds more instances of the same deployment: requests go to each
// in turn, and a retry goes to the next one.
func WithInstances(baseURLs ...string) Option {
	return func(c *Client) {
		for _, b := range baseURLs {
			c.bases = append(c.bases, strings.TrimRight(b, "/"))
		}
	}
}

// WithRetries makes the client send a request up to attempts times while the
// answer is 429 RATE_LIMITED or 503 UNAVAILABLE, or there was no answer at all
// (for requests that are safe to repeat: reads, and writes the server
// deduplicates). attempts 0 retries until the request's context ends. Waits follow
// Retry-After, capped by maxWait (0: 5 s); without one they grow from 20 ms.
// Without this option nothing is retried.
func WithRetries(attempts int, maxWait time.Duration) Option {
	return func(c *Client) {
		c.attempts = attempts
		if attempts == 0 {
			c.attempts = -1
		}
		c.maxWait = maxWait
	}
}

// Observation is one HTTP exchange, for metrics: the route (e.g.
// "POST /api/reservations", ids as {id}), how long it took, the status (0: no
// answer) and the contract's code of an error answer.
type Observation struct {
	Route  string
	Took   time.Duration
	Status int
	Code   string
	Err    error // the transport error when Status is 0
}

// WithObserver calls f after every exchange, retries included.
func WithObserver(f func(Observation)) Option { return func(c *Client) { c.observe = f } }

// New returns a client of the deployment at baseURL (e.g. "http://127.0.0.1:8080").
func New(baseURL string, opts ...Option) *Client {
	c := &Client{bases: []string{strings.TrimRight(baseURL, "/")}, hc: &http.Client{Timeout: 15 * time.Second}, attempts: 1}
	for _, o := range opts {
		o(c)
	}
	if c.maxWait <= 0 {
		c.maxWait = 5 * time.Second
	}
	return c
}

// AdminKey is the key WithAdminKey set.
func (c *Client) AdminKey() string { return c.adminKey }

// Request is one raw request, for callers that need what the typed methods will
// not send (tests of hostile input, say).
type Request struct {
	Method, Path string
	// Route names the request in Observations; default "METHOD PATH".
	Route string
	// Base, if set, sends to this instance instead of the next one.
	Base   string
	Body   []byte // sent as application/json when not nil
	Header http.Header
	// Retry marks a request as safe to repeat after a lost answer.
	Retry bool
	// Once sends it once whatever the answer (a readiness probe).
	Once bool
	// KeepEncoding leaves a compressed body as it came (tests of encoding).
	KeepEncoding bool
}

// Answer is one raw answer, its body decompressed.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Err returns the answer's *Error when its status is not 2xx, else nil.
func (a *Answer) Err() error {
	if a.Status >= 200 && a.Status < 300 {
		return nil
	}
	return decodeError(a.Status, a.Header, a.Body)
}

// Send sends r once, or, on a client WithRetries, until the answer is neither
// 429, 503 nor (for a request marked Retry) missing. An error answer is returned
// as an Answer, not an error: err is only for requests that got no answer.
func (c *Client) Send(ctx context.Context, r *Request) (*Answer, error) {
	for attempt := 1; ; attempt++ {
		a, err := c.sendOnce(ctx, r)
		retryable := (err != nil && r.Retry) || (err == nil && (a.Status == http.StatusTooManyRequests || a.Status == http.StatusServiceUnavailable))
		if !retryable || r.Once || (c.attempts > 0 && attempt >= c.attempts) || ctx.Err() != nil {
			return a, err
		}
		wait := min(20*time.Millisecond<<min(attempt-1, 8), c.maxWait)
		wait = wait/2 + rand.N(wait/2+1)
		if err == nil {
			if d, ok := retryAfter(a.Header); ok {
				wait = min(d, c.maxWait)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return a, err
		case <-t.C:
		}
	}
}

func (c *Client) sendOnce(ctx context.Context, r *Request) (*Answer, error) {
	base := r.Base
	if base == "" {
		base = c.bases[int(c.next.Add(1)-1)%len(c.bases)]
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.Path, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route := r.Route
	if route == "" {
		route = r.Method + " " + r.Path
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.note(route, start, 0, "", err)
		return nil, fmt.Errorf("%s: %w", route, err)
	}
	defer resp.Body.Close()
	var rd io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" && !r.KeepEncoding {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			c.note(route, start, 0, "", err)
			return nil, fmt.Errorf("%s: %w", route, err)
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		c.note(route, start, 0, "", err)
		return nil, fmt.Errorf("%s: %w", route, err)
	}
	a := &Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
	code := ""
	if a.Status < 200 || a.Status > 299 {
		code = errorCode(a.Status, b)
	}
	c.note(route, start, a.Status, code, nil)
	return a, nil
}

func (c *Client) note(route string, start time.Time, status int, code string, err error) {
	if c.observe != nil {
		c.observe(Observation{Route: route, Took: time.Since(start), Status: status, Code: code, Err: err})
	}
}

// call is one typed request: its body is in, its 2xx answer decodes into out.
type call struct {
	method, path, route string
	auth                string // Bearer credential
	admin               bool
	in                  any
	idempotency         string // Idempotency-Key; "auto" makes one when retrying
	retry               bool   // safe to repeat after a lost answer
	gzip                bool
	once                bool
}

// autoKey asks for an Idempotency-Key made by the client when it retries.
const autoKey = "\x00auto"

func (c *Client) do(ctx context.Context, k call, out any) (*Answer, error) {
	r := &Request{Method: k.method, Path: k.path, Route: k.route, Header: http.Header{}, Retry: k.retry, Once: k.once}
	if k.in != nil {
		b, err := json.Marshal(k.in)
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	if k.auth != "" {
		r.Header.Set("Authorization", "Bearer "+k.auth)
	}
	if k.admin {
		r.Header.Set("X-Admin-Key", c.adminKey)
	}
	if k.gzip {
		r.Header.Set("Accept-Encoding", "gzip")
	}
	key := k.idempotency
	if key == autoKey {
		key = ""
		if c.attempts != 1 {
			key = newKey()
		}
	}
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
		r.Retry = true
	}
	a, err := c.Send(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := a.Err(); err != nil {
		return a, err
	}
	if out != nil {
		if err := json.Unmarshal(a.Body, out); err != nil {
			return a, fmt.Errorf("%s: decoding the answer: %w", r.Route, err)
		}
	}
	return a, nil
}

// newKey is a random Idempotency-Key.
func newKey() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
