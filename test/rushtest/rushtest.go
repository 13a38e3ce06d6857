// Package rushtest drives whole concertd servers from the outside, the way a crowd
// and an auditor would: a JSON client that retries across instances, a ticket
// rush, a cuttable TCP proxy for taking a dependency away, and the ledger's
// invariants checked in SQL. It is a package of its own because two kinds of test
// need it: cmd/concertd's in-process tests (Main on port 0) and test/soak's, which
// run the built binary as real processes so one can be killed with SIGKILL.
package rushtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concertd/concertd/engine/pow"
)

// Client speaks the HTTP contract to one or more instances of one deployment.
type Client struct {
	Bases    []string // http://host:port of each instance
	AdminKey string
	HTTP     *http.Client
	next     atomic.Uint64
	keys     sync.Map // userID -> the user key POST /api/users answered
}

// Key is the user key of a user this client created (empty for any other).
func (c *Client) Key(userID int64) string {
	k, _ := c.keys.Load(userID)
	s, _ := k.(string)
	return s
}

// NewClient returns a client of the instances at bases.
func NewClient(adminKey string, bases ...string) *Client {
	return &Client{
		Bases:    bases,
		AdminKey: adminKey,
		HTTP: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512},
		},
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

// DoAt sends one request to one instance; headers alternate name and value. A
// string body goes as is (hostile input), anything else as JSON.
func (c *Client) DoAt(ctx context.Context, base, method, path string, body any, headers ...string) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return Response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	_ = json.Unmarshal(b, &r.JSON)
	return r, nil
}

// Do sends to the next instance in turn.
func (c *Client) Do(ctx context.Context, method, path string, body any, headers ...string) (Response, error) {
	return c.DoAt(ctx, c.pick(), method, path, body, headers...)
}

func (c *Client) pick() string { return c.Bases[int(c.next.Add(1))%len(c.Bases)] }

// Retry sends until an answer is neither a transport error, a 503 nor a 429,
// moving to the next instance each time: what a client of a load balancer sees
// when one instance dies or a dependency blinks. It gives up when ctx ends.
func (c *Client) Retry(ctx context.Context, method, path string, body any, headers ...string) (Response, error) {
	for {
		r, err := c.Do(ctx, method, path, body, headers...)
		if err == nil && r.Status != http.StatusServiceUnavailable && r.Status != http.StatusTooManyRequests {
			return r, nil
		}
		if ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("gave up after %s", r)
			}
			return r, fmt.Errorf("%s %s: %w (%v)", method, path, ctx.Err(), err)
		}
		time.Sleep(time.Duration(20+rand.IntN(30)) * time.Millisecond)
	}
}

// Bearer is the Authorization header pair.
func Bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// Admin is the X-Admin-Key header pair.
func (c *Client) Admin() []string { return []string{"X-Admin-Key", c.AdminKey} }

// Concert creates an on-sale concert with one schedule and returns its ids.
func (c *Client) Concert(ctx context.Context, seats int, price int64, admitPerSecond, maxActive int) (concertID, scheduleID int64, err error) {
	r, err := c.Retry(ctx, "POST", "/api/admin/concerts", map[string]any{
		"title": "rush", "description": "rushtest",
		"queue": map[string]any{"admitPerSecond": admitPerSecond, "maxActive": maxActive},
		"schedules": []map[string]any{{
			"concertDate": time.Now().AddDate(0, 1, 0).Format(time.DateOnly), "seatCount": seats, "price": price,
		}},
	}, c.Admin()...)
	if err != nil {
		return 0, 0, err
	}
	if r.Status != http.StatusCreated {
		return 0, 0, fmt.Errorf("create concert: %s", r)
	}
	ids, _ := r.JSON["scheduleIds"].([]any)
	if len(ids) != 1 {
		return 0, 0, fmt.Errorf("create concert: %s", r)
	}
	return r.Int("concertId"), int64(ids[0].(float64)), nil
}

// User creates a user with a unique email and returns its id. An attempt whose
// answer was lost (a killed instance, a database cut mid-commit) may have created
// the user anyway, so every attempt sends the same Idempotency-Key: a retry then
// gets that user's id back instead of 409 EMAIL_TAKEN.
func (c *Client) User(ctx context.Context, name string) (int64, error) {
	email := name + "-" + strconv.FormatUint(rand.Uint64(), 36) + "@example.com"
	r, err := c.Retry(ctx, "POST", "/api/users", map[string]any{"name": name, "email": email}, "Idempotency-Key", "user-"+email)
	if err != nil {
		return 0, err
	}
	if r.Status != http.StatusCreated {
		return 0, fmt.Errorf("create user: %s", r)
	}
	c.keys.Store(r.Int("userId"), r.Str("userKey"))
	return r.Int("userId"), nil
}

// Enter takes a place in the concert's line and returns the token; the user's key
// (from User) proves the user. A concert
// that asks for a proof of work (403 PROOF_REQUIRED) gets one: a challenge
// solved with engine/pow, sent with the entry.
func (c *Client) Enter(ctx context.Context, userID, concertID int64) (string, error) {
	body := map[string]any{"concertId": concertID}
	r, err := c.Retry(ctx, "POST", "/api/users/token", body, Bearer(c.Key(userID))...)
	if err == nil && r.Status == http.StatusForbidden && r.Str("code") == "PROOF_REQUIRED" {
		var ch Response
		ch, err = c.Retry(ctx, "GET", "/api/queue/challenge?concertId="+strconv.FormatInt(concertID, 10), nil)
		if err == nil && ch.Status != http.StatusOK {
			err = fmt.Errorf("challenge: %s", ch)
		}
		if err == nil {
			body["proof"] = map[string]string{"challenge": ch.Str("challenge"), "nonce": pow.Solve(ch.Str("challenge"), int(ch.Int("bits")))}
			r, err = c.Retry(ctx, "POST", "/api/users/token", body, Bearer(c.Key(userID))...)
		}
	}
	if err != nil {
		return "", err
	}
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		return "", fmt.Errorf("enter: %s", r)
	}
	return r.Str("userToken"), nil
}

// Charge adds amount to the token's user under an idempotency key, so a retry
// after a lost answer cannot charge twice.
func (c *Client) Charge(ctx context.Context, token string, amount int64, key string) error {
	r, err := c.Retry(ctx, "POST", "/api/users/balance/charge", map[string]any{"amount": amount},
		append(Bearer(token), "Idempotency-Key", key)...)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("charge: %s", r)
	}
	return nil
}

// WaitActive polls the token's status until ACTIVE.
func (c *Client) WaitActive(ctx context.Context, token string, every time.Duration) error {
	for {
		r, err := c.Retry(ctx, "GET", "/api/queue/status", nil, Bearer(token)...)
		if err != nil {
			return err
		}
		if r.Status != http.StatusOK {
			return fmt.Errorf("status: %s", r)
		}
		if r.Str("status") == "ACTIVE" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("never admitted: %w", ctx.Err())
		case <-time.After(every):
		}
	}
}

// Purchase is one payment a buyer was told succeeded.
type Purchase struct {
	UserID, ReservationID, PaymentID int64
	Seat                             int
}

// Buy holds a random available seat and pays for it, retrying across instances,
// until it owns one or the schedule has no seat left to try. ok is false when the
// sale ran out first.
func (c *Client) Buy(ctx context.Context, userID int64, token string, scheduleID, price int64) (p Purchase, ok bool, err error) {
	seatsPath := "/api/concerts/schedules/" + strconv.FormatInt(scheduleID, 10) + "/seats"
	for {
		r, err := c.Retry(ctx, "GET", seatsPath, nil, Bearer(token)...)
		if err != nil {
			return p, false, err
		}
		if r.Status != http.StatusOK {
			return p, false, fmt.Errorf("seat map: %s", r)
		}
		var free, pending []int
		seats, _ := r.JSON["availableSeats"].([]any)
		for _, s := range seats {
			m := s.(map[string]any)
			switch m["status"] {
			case "available":
				free = append(free, int(m["seatNumber"].(float64)))
			case "pending":
				pending = append(pending, int(m["seatNumber"].(float64)))
			}
		}
		if len(free) == 0 {
			if len(pending) == 0 {
				return p, false, nil
			}
			// Someone's hold may still lapse; look again shortly.
			select {
			case <-ctx.Done():
				return p, false, nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		seat := free[rand.IntN(len(free))]
		h, err := c.Retry(ctx, "POST", "/api/reservations", map[string]any{"concertScheduleId": scheduleID, "seatNumber": seat}, Bearer(token)...)
		if err != nil {
			return p, false, err
		}
		switch {
		case h.Status == http.StatusCreated || h.Status == http.StatusOK:
		case h.Code() == "SEAT_TAKEN":
			continue
		default:
			return p, false, fmt.Errorf("hold seat %d: %s", seat, h)
		}
		resID := h.Int("reservationId")
		key := fmt.Sprintf("pay-%d-%d", userID, resID)
		pr, err := c.Retry(ctx, "POST", "/api/payments", map[string]any{"reservationId": resID, "paymentAmount": price},
			append(Bearer(token), "Idempotency-Key", key)...)
		if err != nil {
			return p, false, err
		}
		switch {
		case pr.Status == http.StatusCreated:
			return Purchase{UserID: userID, ReservationID: resID, PaymentID: pr.Int("paymentId"), Seat: seat}, true, nil
		case pr.Code() == "RESERVATION_EXPIRED":
			continue // the hold lapsed under a slow retry; nothing was charged
		case pr.Code() == "ALREADY_PAID":
			// An earlier attempt's outcome was unknown (its instance died, or the
			// database went away mid-commit): the hold stays PAYING until the server
			// learns from the ledger whether it sold. Ask until it knows.
			paid, err := c.settled(ctx, token, resID)
			if err != nil {
				return p, false, err
			}
			if paid {
				return Purchase{UserID: userID, ReservationID: resID, Seat: seat}, true, nil
			}
			continue
		default:
			return p, false, fmt.Errorf("pay reservation %d: %s", resID, pr)
		}
	}
}

// RushConfig shapes a rush.
type RushConfig struct {
	Users, Seats   int
	Price, Charge  int64
	AdmitPerSecond int
	MaxActive      int
	PollEvery      time.Duration
	// During, when set, runs alongside the buyers (a fault to inject, say).
	During func(ctx context.Context)
}

// RushResult is what the buyers were told.
type RushResult struct {
	ConcertID, ScheduleID int64
	Purchases             []Purchase
	UserIDs               []int64
	Charged               int64 // total the buyers were told was charged
	// MaxOverAdmitted is the largest admittedTotal seen above what the rate allows
	// by then; positive means admission ran too fast.
	MaxOverAdmitted float64
	OverAdmitted    string // the sample that set MaxOverAdmitted
	MaxActiveSeen   int64
}

// Rush runs Users buyers at once: each creates a user, charges, enters the line,
// waits for admission and buys one seat. Every step goes through whichever
// instance is next and retries elsewhere on failure. Meanwhile the concert's stats
// are sampled to check the admission rate across all instances.
func (c *Client) Rush(ctx context.Context, cfg RushConfig) (RushResult, error) {
	var res RushResult
	if cfg.PollEvery == 0 {
		cfg.PollEvery = 50 * time.Millisecond
	}
	start := time.Now()
	cid, sid, err := c.Concert(ctx, cfg.Seats, cfg.Price, cfg.AdmitPerSecond, cfg.MaxActive)
	if err != nil {
		return res, err
	}
	res.ConcertID, res.ScheduleID = cid, sid

	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		statsPath := "/api/admin/concerts/" + strconv.FormatInt(cid, 10) + "/stats"
		for sctx.Err() == nil {
			r, err := c.Do(sctx, "GET", statsPath, nil, c.Admin()...)
			// The count was read at some moment before the answer arrived, and it only
			// grows, so the bound uses the arrival time: a request retried across
			// instances (one may have just been killed) can take seconds.
			t := time.Now()
			if err == nil && r.Status == http.StatusOK {
				// The bucket starts empty at the first admission step after creation
				// and holds at most one second's worth, so by now no more than
				// rate*(elapsed+1) can have been admitted.
				allowed := float64(cfg.AdmitPerSecond) * (t.Sub(start).Seconds() + 1)
				if over := float64(r.Int("admittedTotal")) - allowed; over > res.MaxOverAdmitted {
					res.MaxOverAdmitted = over
					res.OverAdmitted = fmt.Sprintf("%d admitted %.2fs after creation at %d/s", r.Int("admittedTotal"), t.Sub(start).Seconds(), cfg.AdmitPerSecond)
				}
				res.MaxActiveSeen = max(res.MaxActiveSeen, r.Int("active"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if cfg.During != nil {
		go cfg.During(ctx)
	}

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for i := range cfg.Users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid, err := c.User(ctx, fmt.Sprintf("buyer%d", i))
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			res.UserIDs = append(res.UserIDs, uid)
			mu.Unlock()
			tok, err := c.Enter(ctx, uid, cid)
			if err != nil {
				fail(err)
				return
			}
			if err := c.Charge(ctx, tok, cfg.Charge, fmt.Sprintf("charge-%d", uid)); err != nil {
				fail(err)
				return
			}
			mu.Lock()
			res.Charged += cfg.Charge
			mu.Unlock()
			if err := c.WaitActive(ctx, tok, cfg.PollEvery); err != nil {
				fail(err)
				return
			}
			p, ok, err := c.Buy(ctx, uid, tok, sid, cfg.Price)
			if err != nil {
				fail(fmt.Errorf("user %d: %w", uid, err))
				return
			}
			if ok {
				mu.Lock()
				res.Purchases = append(res.Purchases, p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	stopSampling()
	<-sampled
	if len(errs) > 0 {
		return res, fmt.Errorf("%d buyers failed, first: %w", len(errs), errs[0])
	}
	return res, nil
}

// settled polls a reservation until it is PAID (true) or gone (false).
func (c *Client) settled(ctx context.Context, token string, resID int64) (bool, error) {
	for {
		r, err := c.Retry(ctx, "GET", "/api/reservations/"+strconv.FormatInt(resID, 10), nil, Bearer(token)...)
		if err != nil {
			return false, err
		}
		switch r.Str("status") {
		case "PAID":
			return true, nil
		case "EXPIRED", "CANCELLED":
			return false, nil
		}
		if r.Status != http.StatusOK {
			return false, fmt.Errorf("reservation %d: %s", resID, r)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
