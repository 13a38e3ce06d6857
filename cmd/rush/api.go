package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/concertd/concertd/engine/pow"
)

// Typed wrappers for the endpoints of ../../../shared/API.md that rush uses.

type queueStatus struct {
	UserToken        string `json:"userToken"`
	ConcertID        int64  `json:"concertId"`
	Status           string `json:"status"`
	Position         int64  `json:"position"`
	PollAfterSeconds int    `json:"pollAfterSeconds"`
}

type concertSpec struct {
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Queue       queueSettings `json:"queue"`
	Schedules   []schedule    `json:"schedules"`
}

type queueSettings struct {
	AdmitPerSecond int `json:"admitPerSecond"`
	MaxActive      int `json:"maxActive"`

	ProofOfWorkBits int `json:"proofOfWorkBits,omitempty"`
}

type schedule struct {
	ConcertDate string `json:"concertDate"`
	SeatCount   int    `json:"seatCount"`
	Price       int64  `json:"price"`
}

type reservation struct {
	ReservationID int64  `json:"reservationId"`
	Status        string `json:"status"`
	ScheduleID    int64  `json:"concertScheduleId"`
	SeatNumber    int    `json:"seatNumber"`
	Price         int64  `json:"price"`
}

// seatMap is a parsed seat map answer.
type seatMap struct {
	available         []int
	pending, reserved int
	status            map[int]byte // seat -> 'a'vailable, 'p'ending, 'r'eserved
}

type stats struct {
	Waiting       int64 `json:"waiting"`
	Active        int64 `json:"active"`
	AdmittedTotal int64 `json:"admittedTotal"`
	Held          int64 `json:"held"`
	Sold          int64 `json:"sold"`
	SeatsTotal    int64 `json:"seatsTotal"`
}

func (cl *client) createConcert(ctx context.Context, title string, q queueSettings, schedules ...schedule) (int64, []int64, error) {
	v, err := callJSON[struct {
		ConcertID   int64   `json:"concertId"`
		ScheduleIDs []int64 `json:"scheduleIds"`
	}](ctx, cl, call{endpoint: "POST /api/admin/concerts", method: "POST", path: "/api/admin/concerts", admin: true,
		body: concertSpec{Title: title, Description: "created by cmd/rush", Queue: q, Schedules: schedules}}, "create concert")
	if err != nil {
		return 0, nil, err
	}
	return v.ConcertID, v.ScheduleIDs, nil
}

// userKeys holds the key POST /api/users answered for each user this run
// created (userID -> string), shared by every client: entering takes it as Bearer.
var userKeys sync.Map

// userKey is the key of a user this run created ("" for any other: refused).
func userKey(userID int64) string {
	k, _ := userKeys.Load(userID)
	s, _ := k.(string)
	return s
}

func (cl *client) createUser(ctx context.Context, name, email string) (int64, error) {
	v, err := callJSON[struct {
		UserID  int64  `json:"userId"`
		UserKey string `json:"userKey"`
	}](ctx, cl, call{endpoint: "POST /api/users", method: "POST", path: "/api/users",
		body: map[string]string{"name": name, "email": email}}, "create user")
	if err != nil {
		return 0, err
	}
	userKeys.Store(v.UserID, v.UserKey)
	return v.UserID, nil
}

func (cl *client) enter(ctx context.Context, userID, concertID int64) (queueStatus, error) {
	body := map[string]any{"concertId": concertID}
	c := call{endpoint: "POST /api/users/token", method: "POST", path: "/api/users/token", token: userKey(userID), body: body}
	v, a, err := callAnswer[queueStatus](ctx, cl, c)
	if err == nil && a.Code == "PROOF_REQUIRED" {
		// The concert asks for a proof of work: solve a challenge, as a browser would.
		var proof map[string]string
		if proof, err = cl.solveChallenge(ctx, concertID); err == nil {
			body["proof"] = proof
			v, a, err = callAnswer[queueStatus](ctx, cl, c)
		}
	}
	if err == nil && !a.ok() {
		err = fmt.Errorf("enter: %w", a.decode(nil))
	}
	if err != nil {
		return queueStatus{}, err
	}
	return v, nil
}

// solveChallenge gets a proof-of-work challenge for the concert and solves it.
func (cl *client) solveChallenge(ctx context.Context, concertID int64) (map[string]string, error) {
	ch, err := callJSON[struct {
		Challenge string `json:"challenge"`
		Bits      int    `json:"bits"`
	}](ctx, cl, call{endpoint: "GET /api/queue/challenge", method: "GET",
		path: "/api/queue/challenge?concertId=" + strconv.FormatInt(concertID, 10)}, "challenge")
	if err != nil {
		return nil, err
	}
	nonce, err := pow.SolveContext(ctx, ch.Challenge, ch.Bits, nil)
	if err != nil {
		return nil, err
	}
	return map[string]string{"challenge": ch.Challenge, "nonce": nonce}, nil
}

func (cl *client) status(ctx context.Context, token string) (queueStatus, answer, error) {
	return callAnswer[queueStatus](ctx, cl, call{endpoint: "GET /api/queue/status", method: "GET", path: "/api/queue/status", token: token})
}

func (cl *client) charge(ctx context.Context, token string, amount int64) (int64, error) {
	v, err := callJSON[struct {
		CurrentBalance int64 `json:"currentBalance"`
	}](ctx, cl, call{endpoint: "POST /api/users/balance/charge", method: "POST", path: "/api/users/balance/charge",
		token: token, body: map[string]int64{"amount": amount}}, "charge")
	if err != nil {
		return 0, err
	}
	return v.CurrentBalance, nil
}

func (cl *client) balance(ctx context.Context, token string) (int64, error) {
	v, err := callJSON[struct {
		CurrentBalance int64 `json:"currentBalance"`
	}](ctx, cl, call{endpoint: "GET /api/users/balance", method: "GET", path: "/api/users/balance?limit=1", token: token}, "balance")
	if err != nil {
		return 0, err
	}
	return v.CurrentBalance, nil
}

func (cl *client) seatMap(ctx context.Context, token string, scheduleID int64) (seatMap, answer, error) {
	a, err := cl.do(ctx, call{endpoint: "GET /api/concerts/schedules/{id}/seats", method: "GET",
		path: "/api/concerts/schedules/" + strconv.FormatInt(scheduleID, 10) + "/seats", token: token, gzip: true})
	if err != nil {
		return seatMap{}, a, err
	}
	var v seatMap
	if a.ok() {
		v.available, v.pending, v.reserved, v.status = parseSeatMap(a.Body)
	}
	return v, a, nil
}

// availableSeats is seatMap without the per-seat statuses: what a shopper needs.
func (cl *client) availableSeats(ctx context.Context, token string, scheduleID int64) (seatMap, answer, error) {
	var v seatMap
	a, err := cl.do(ctx, call{endpoint: "GET /api/concerts/schedules/{id}/seats", method: "GET",
		path: "/api/concerts/schedules/" + strconv.FormatInt(scheduleID, 10) + "/seats", token: token, gzip: true,
		scan: func(body []byte) { v.available, v.pending, v.reserved = scanSeatMap(body, nil) }})
	if err != nil {
		return seatMap{}, a, err
	}
	return v, a, nil
}

func (cl *client) hold(ctx context.Context, token string, scheduleID int64, seat int) (reservation, answer, error) {
	return callAnswer[reservation](ctx, cl, call{endpoint: "POST /api/reservations", method: "POST", path: "/api/reservations", token: token,
		body: map[string]int64{"concertScheduleId": scheduleID, "seatNumber": int64(seat)}})
}

func (cl *client) reservation(ctx context.Context, token string, id int64) (reservation, answer, error) {
	a, err := cl.do(ctx, call{endpoint: "GET /api/reservations/{id}", method: "GET",
		path: "/api/reservations/" + strconv.FormatInt(id, 10), token: token})
	if err != nil {
		return reservation{}, a, err
	}
	var v reservation
	if a.ok() {
		err = a.decode(&v)
	}
	return v, a, err
}

type paymentAnswer struct {
	Status         string `json:"status"`
	PaymentID      int64  `json:"paymentId"`
	ReservationID  int64  `json:"reservationId"`
	Amount         int64  `json:"amount"`
	CurrentBalance int64  `json:"currentBalance"`
}

func (cl *client) pay(ctx context.Context, token string, reservationID, amount int64, idemKey string) (paymentAnswer, answer, error) {
	a, err := cl.do(ctx, call{endpoint: "POST /api/payments", method: "POST", path: "/api/payments", token: token, idemKey: idemKey,
		body: map[string]int64{"reservationId": reservationID, "paymentAmount": amount}})
	if err != nil {
		return paymentAnswer{}, a, err
	}
	var v paymentAnswer
	if a.ok() {
		err = a.decode(&v)
	}
	return v, a, err
}

func (cl *client) concertStats(ctx context.Context, concertID int64) (stats, error) {
	v, err := callJSON[stats](ctx, cl, call{endpoint: "GET /api/admin/concerts/{id}/stats", method: "GET",
		path: "/api/admin/concerts/" + strconv.FormatInt(concertID, 10) + "/stats", admin: true}, "stats")
	if err != nil {
		return stats{}, err
	}
	return v, nil
}

// waitActive polls a token's status until it is ACTIVE, sleeping what the server
// asks (pollAfterSeconds) but at most pollCap, for at most `within`.
func (cl *client) waitActive(ctx context.Context, token string, pollCap, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		st, a, err := cl.status(ctx, token)
		if err != nil {
			return err
		}
		if !a.ok() {
			return fmt.Errorf("status: HTTP %d %s", a.Status, a.Code)
		}
		switch st.Status {
		case "ACTIVE":
			return nil
		case "DONE":
			return fmt.Errorf("token is DONE")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still %s (position %d) after %s", st.Status, st.Position, within)
		}
		d := min(time.Duration(st.PollAfterSeconds)*time.Second, pollCap)
		if err := sleepCtx(ctx, max(d, 50*time.Millisecond)); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
