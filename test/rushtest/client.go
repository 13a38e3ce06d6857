package rushtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/concertd/concertd/client"
)

// Client is a test's view of one deployment: raw requests (Do, DoAt, Retry) for
// checking answers byte by byte, and the typed client/ package (API) for the
// rest. Requests go to each instance in turn; Retry and API repeat lost answers,
// 429s and 503s on the next instance until the context ends: what a client of a
// load balancer sees when one instance dies or a dependency blinks.
type Client struct {
	Bases    []string // http://host:port of each instance
	AdminKey string
	// API retries until its context ends; once sends each request once.
	API  *client.Client
	once *client.Client

	mu   sync.Mutex
	keys map[int64]string // user id -> user key, from User
}

// NewClient returns a client of the instances at bases.
func NewClient(adminKey string, bases ...string) *Client {
	hc := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512},
	}
	opts := []client.Option{client.WithHTTPClient(hc), client.WithAdminKey(adminKey), client.WithInstances(bases[1:]...)}
	return &Client{
		Bases:    bases,
		AdminKey: adminKey,
		API:      client.New(bases[0], append(opts, client.WithRetries(0, 200*time.Millisecond))...),
		once:     client.New(bases[0], opts...),
		keys:     map[int64]string{},
	}
}

// Response is one answer, decoded when it is JSON.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Code is the contract's error code of an error answer.
func (r Response) Code() string { s, _ := r.JSON["code"].(string); return s }

// Int reads a numeric field.
func (r Response) Int(field string) int64 { f, _ := r.JSON[field].(float64); return int64(f) }

// Str reads a string field.
func (r Response) Str(field string) string { s, _ := r.JSON[field].(string); return s }

func (r Response) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

// request builds a raw request; headers alternate name and value. A string or
// []byte body goes as is (hostile input), anything else as JSON.
func request(method, path string, body any, headers []string) (*client.Request, error) {
	r := &client.Request{Method: method, Path: path, Header: http.Header{}}
	switch b := body.(type) {
	case nil:
	case string:
		r.Body = []byte(b)
	case []byte:
		r.Body = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		r.Body = j
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r, nil
}

func (c *Client) send(ctx context.Context, via *client.Client, r *client.Request) (Response, error) {
	a, err := via.Send(ctx, r)
	if err != nil {
		return Response{}, err
	}
	resp := Response{Status: a.Status, Header: a.Header, Body: a.Body}
	_ = json.Unmarshal(a.Body, &resp.JSON)
	return resp, nil
}

// DoAt sends one request to one instance, once.
func (c *Client) DoAt(ctx context.Context, base, method, path string, body any, headers ...string) (Response, error) {
	r, err := request(method, path, body, headers)
	if err != nil {
		return Response{}, err
	}
	r.Base = base
	return c.send(ctx, c.once, r)
}

// Do sends one request to the next instance in turn, once.
func (c *Client) Do(ctx context.Context, method, path string, body any, headers ...string) (Response, error) {
	r, err := request(method, path, body, headers)
	if err != nil {
		return Response{}, err
	}
	return c.send(ctx, c.once, r)
}

// Retry sends until an answer is neither missing, a 503 nor a 429, moving to the
// next instance each time. It gives up when ctx ends.
func (c *Client) Retry(ctx context.Context, method, path string, body any, headers ...string) (Response, error) {
	r, err := request(method, path, body, headers)
	if err != nil {
		return Response{}, err
	}
	r.Retry = true
	resp, err := c.send(ctx, c.API, r)
	if err == nil && (resp.Status == http.StatusServiceUnavailable || resp.Status == http.StatusTooManyRequests) {
		err = fmt.Errorf("gave up after %s", resp)
	}
	if err != nil {
		return resp, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, nil
}

// Bearer is the Authorization header pair.
func Bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// Admin is the X-Admin-Key header pair.
func (c *Client) Admin() []string { return []string{"X-Admin-Key", c.AdminKey} }

// Concert creates an on-sale concert with one schedule and returns its ids.
func (c *Client) Concert(ctx context.Context, seats int, price int64, admitPerSecond, maxActive int) (concertID, scheduleID int64, err error) {
	cc, err := c.API.CreateConcert(ctx, client.NewConcert{
		Title: "rush", Description: "rushtest",
		Queue:     &client.QueueSettings{AdmitPerSecond: admitPerSecond, MaxActive: maxActive},
		Schedules: []client.NewSchedule{{ConcertDate: time.Now().AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: seats, Price: price}},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("create concert: %w", err)
	}
	if len(cc.ScheduleIDs) != 1 {
		return 0, 0, fmt.Errorf("create concert: %d schedules", len(cc.ScheduleIDs))
	}
	return cc.ConcertID, cc.ScheduleIDs[0], nil
}

// User creates a user with a unique email and returns its id; Enter then sends
// its key. An attempt whose answer was lost (a killed instance, a database cut
// mid-commit) may have created the user anyway, so every attempt sends the same
// Idempotency-Key: a retry then gets that user back instead of 409 EMAIL_TAKEN.
func (c *Client) User(ctx context.Context, name string) (int64, error) {
	u, err := CreateUser(ctx, c.API, name)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.keys[u.UserID] = u.UserKey
	c.mu.Unlock()
	return u.UserID, nil
}

// CreateUser creates a user with a unique email under one Idempotency-Key.
func CreateUser(ctx context.Context, api *client.Client, name string) (client.User, error) {
	email := name + "-" + strconv.FormatUint(rand.Uint64(), 36) + "@example.com"
	u, err := api.CreateUser(ctx, client.CreateUserRequest{Name: name, Email: email, IdempotencyKey: "user-" + email})
	if err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// Key is the user key User got for userID ("" when the server gave none).
func (c *Client) Key(userID int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys[userID]
}

// Enter takes a place in the concert's line and returns the token. It sends the
// user's key when User got one, and the id as well, which servers with and
// without user keys both accept.
func (c *Client) Enter(ctx context.Context, userID, concertID int64) (string, error) {
	q, err := c.API.EnterQueue(ctx, c.Key(userID), client.EnterRequest{UserID: userID, ConcertID: concertID})
	if err != nil {
		return "", fmt.Errorf("enter: %w", err)
	}
	return q.UserToken, nil
}

// Charge adds amount to the token's user under an idempotency key, so a retry
// after a lost answer cannot charge twice.
func (c *Client) Charge(ctx context.Context, token string, amount int64, key string) error {
	if _, err := c.API.Charge(ctx, token, client.ChargeRequest{Amount: amount, IdempotencyKey: key}); err != nil {
		return fmt.Errorf("charge: %w", err)
	}
	return nil
}

// WaitActive polls the token's status until ACTIVE.
func (c *Client) WaitActive(ctx context.Context, token string, every time.Duration) error {
	return WaitActive(ctx, c.API, token, every, 0)
}

// WaitActive polls a token's status until it is ACTIVE, sleeping what the server
// asks (pollAfterSeconds) but at most pollCap (0: every), giving up when ctx ends.
func WaitActive(ctx context.Context, api *client.Client, token string, pollCap, floor time.Duration) error {
	for {
		st, err := api.QueueStatus(ctx, token)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		switch st.Status {
		case client.Active:
			return nil
		case client.Done, client.Expired:
			return fmt.Errorf("token is %s", st.Status)
		}
		d := time.Duration(st.PollAfterSeconds) * time.Second
		if pollCap > 0 {
			d = min(d, pollCap)
		}
		if err := Sleep(ctx, max(d, floor, time.Millisecond)); err != nil {
			return fmt.Errorf("never admitted: %w", err)
		}
	}
}

// Sleep waits d or until ctx ends, whichever is first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
