package client

import (
	"context"
	"strconv"
)

func id(n int64) string { return strconv.FormatInt(n, 10) }

// CreateUser registers a user (POST /api/users).
func (c *Client) CreateUser(ctx context.Context, r CreateUserRequest) (User, error) {
	return fetch[User](ctx, c, call{method: "POST", path: "/api/users", route: "POST /api/users", in: r,
		idempotency: keyOr(r.IdempotencyKey)})
}

// RotateKey replaces the user key given as userKey by a new one (POST
// /api/users/key); the old key stops working.
func (c *Client) RotateKey(ctx context.Context, userKey string) (User, error) {
	return fetch[User](ctx, c, call{method: "POST", path: "/api/users/key", route: "POST /api/users/key", auth: userKey})
}

// EnterQueue takes a place in a concert's waiting room (POST /api/users/token)
// with cred, a user key or an identity token ("" sends none: a server running
// USER_AUTH=none enters by r.UserID). A user who holds a live token gets the same
// one back. When the concert asks for a proof of work and r has none, EnterQueue
// fetches a challenge, solves it and asks again.
func (c *Client) EnterQueue(ctx context.Context, cred string, r EnterRequest) (QueueStatus, error) {
	var q QueueStatus
	k := call{method: "POST", path: "/api/users/token", route: "POST /api/users/token", auth: cred, in: r, retry: true}
	_, err := c.do(ctx, k, &q)
	if r.Proof == nil && IsCode(err, "PROOF_REQUIRED") {
		ch, cerr := c.Challenge(ctx, r.ConcertID)
		if cerr != nil {
			return q, cerr
		}
		r.Proof = &Proof{Challenge: ch.Challenge, Nonce: Solve(ch.Challenge, ch.Bits)}
		k.in = r
		_, err = c.do(ctx, k, &q)
	}
	return q, err
}

// QueueStatus polls a user token's place (GET /api/queue/status); it is also the
// waiting token's heartbeat.
func (c *Client) QueueStatus(ctx context.Context, userToken string) (QueueStatus, error) {
	return fetch[QueueStatus](ctx, c, call{method: "GET", path: "/api/queue/status", route: "GET /api/queue/status", auth: userToken, retry: true})
}

// Challenge fetches a proof-of-work challenge of a concert (GET
// /api/queue/challenge); Bits 0 means the concert asks for none.
func (c *Client) Challenge(ctx context.Context, concertID int64) (Challenge, error) {
	return fetch[Challenge](ctx, c, call{method: "GET", path: "/api/queue/challenge?concertId=" + id(concertID), route: "GET /api/queue/challenge", retry: true})
}

// Concerts lists the catalog (GET /api/concerts).
func (c *Client) Concerts(ctx context.Context) ([]Concert, error) {
	var v struct {
		Concerts []Concert `json:"concerts"`
	}
	_, err := c.do(ctx, call{method: "GET", path: "/api/concerts", route: "GET /api/concerts", retry: true}, &v)
	return v.Concerts, err
}

// Schedules lists upcoming schedules with seats left (GET
// /api/concerts/schedules), of one concert when concertID is not 0.
func (c *Client) Schedules(ctx context.Context, concertID int64) ([]Schedule, error) {
	p := "/api/concerts/schedules"
	if concertID != 0 {
		p += "?concertId=" + id(concertID)
	}
	var v struct {
		Schedules []Schedule `json:"availableSchedules"`
	}
	_, err := c.do(ctx, call{method: "GET", path: p, route: "GET /api/concerts/schedules", retry: true}, &v)
	return v.Schedules, err
}

// SeatMapRoute names seat map requests in Observations.
const SeatMapRoute = "GET /api/concerts/schedules/{id}/seats"

// SeatMap reads every seat of a schedule (GET
// /api/concerts/schedules/{id}/seats) with an ACTIVE user token.
func (c *Client) SeatMap(ctx context.Context, userToken string, scheduleID int64) (SeatMap, error) {
	return fetch[SeatMap](ctx, c, c.seatMapCall(userToken, scheduleID))
}

// SeatMapRaw is SeatMap without decoding: the JSON body, for callers that scan
// megabyte maps faster than encoding/json decodes them.
func (c *Client) SeatMapRaw(ctx context.Context, userToken string, scheduleID int64) ([]byte, error) {
	a, err := c.do(ctx, c.seatMapCall(userToken, scheduleID), nil)
	if err != nil {
		return nil, err
	}
	return a.Body, nil
}

func (c *Client) seatMapCall(userToken string, scheduleID int64) call {
	return call{method: "GET", path: "/api/concerts/schedules/" + id(scheduleID) + "/seats", route: SeatMapRoute,
		auth: userToken, gzip: true, retry: true}
}

// Hold holds one seat (POST /api/reservations) with an ACTIVE user token.
// Holding a seat the user already holds returns that reservation.
func (c *Client) Hold(ctx context.Context, userToken string, r HoldRequest) (Reservation, error) {
	return fetch[Reservation](ctx, c, call{method: "POST", path: "/api/reservations", route: "POST /api/reservations", auth: userToken, in: r, retry: true})
}

// HoldBest holds the best Quantity adjacent seats the server finds (POST
// /api/reservations/best), in seat order.
func (c *Client) HoldBest(ctx context.Context, userToken string, r BestRequest) ([]Reservation, error) {
	var v struct {
		Reservations []Reservation `json:"reservations"`
	}
	_, err := c.do(ctx, call{method: "POST", path: "/api/reservations/best", route: "POST /api/reservations/best", auth: userToken, in: r}, &v)
	return v.Reservations, err
}

// Reservation reads one of the user's reservations (GET /api/reservations/{id}).
func (c *Client) Reservation(ctx context.Context, userToken string, reservationID int64) (Reservation, error) {
	return fetch[Reservation](ctx, c, call{method: "GET", path: "/api/reservations/" + id(reservationID), route: "GET /api/reservations/{id}",
		auth: userToken, retry: true})
}

// Cancel gives a pending hold back (DELETE /api/reservations/{id}).
func (c *Client) Cancel(ctx context.Context, userToken string, reservationID int64) (Reservation, error) {
	return fetch[Reservation](ctx, c, call{method: "DELETE", path: "/api/reservations/" + id(reservationID), route: "DELETE /api/reservations/{id}",
		auth: userToken})
}

// Charge adds money to a balance (POST /api/users/balance/charge); cred is a user
// key, an identity token or a user token.
func (c *Client) Charge(ctx context.Context, cred string, r ChargeRequest) (Charged, error) {
	return fetch[Charged](ctx, c, call{method: "POST", path: "/api/users/balance/charge", route: "POST /api/users/balance/charge",
		auth: cred, in: r, idempotency: keyOr(r.IdempotencyKey)})
}

// Balance reads the balance and up to limit history lines, newest first (GET
// /api/users/balance); limit 0 is the server's default.
func (c *Client) Balance(ctx context.Context, cred string, limit int) (Balance, error) {
	p := "/api/users/balance"
	if limit != 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	return fetch[Balance](ctx, c, call{method: "GET", path: p, route: "GET /api/users/balance", auth: cred, retry: true})
}

// Pay pays one hold or several (POST /api/payments) with an ACTIVE user token.
func (c *Client) Pay(ctx context.Context, userToken string, r PayRequest) (Payment, error) {
	return fetch[Payment](ctx, c, call{method: "POST", path: "/api/payments", route: "POST /api/payments",
		auth: userToken, in: r, idempotency: keyOr(r.IdempotencyKey)})
}

// CreateConcert creates a concert and its schedules (POST /api/admin/concerts).
func (c *Client) CreateConcert(ctx context.Context, r NewConcert) (CreatedConcert, error) {
	return fetch[CreatedConcert](ctx, c, call{method: "POST", path: "/api/admin/concerts", route: "POST /api/admin/concerts", admin: true, in: r})
}

// PatchQueue changes a concert's queue settings (PATCH
// /api/admin/concerts/{id}/queue) and returns them all.
func (c *Client) PatchQueue(ctx context.Context, concertID int64, p QueuePatch) (QueueSettings, error) {
	return fetch[QueueSettings](ctx, c, call{method: "PATCH", path: "/api/admin/concerts/" + id(concertID) + "/queue",
		route: "PATCH /api/admin/concerts/{id}/queue", admin: true, in: p, retry: true})
}

// Stats reads a concert's counts (GET /api/admin/concerts/{id}/stats).
func (c *Client) Stats(ctx context.Context, concertID int64) (Stats, error) {
	return fetch[Stats](ctx, c, call{method: "GET", path: "/api/admin/concerts/" + id(concertID) + "/stats",
		route: "GET /api/admin/concerts/{id}/stats", admin: true, retry: true})
}

// PresaleCodes makes new single-use presale codes (POST
// /api/admin/concerts/{id}/presale).
func (c *Client) PresaleCodes(ctx context.Context, concertID int64, r PresaleRequest) ([]string, error) {
	var v struct {
		Codes []string `json:"codes"`
	}
	_, err := c.do(ctx, call{method: "POST", path: "/api/admin/concerts/" + id(concertID) + "/presale",
		route: "POST /api/admin/concerts/{id}/presale", admin: true, in: r}, &v)
	return v.Codes, err
}

// Healthz is nil while the process runs (GET /healthz).
func (c *Client) Healthz(ctx context.Context) error {
	_, err := c.do(ctx, call{method: "GET", path: "/healthz", route: "GET /healthz"}, nil)
	return err
}

// Readyz is nil when Redis and the database answer (GET /readyz); otherwise its
// *Error's message names what is down.
func (c *Client) Readyz(ctx context.Context) error {
	_, err := c.do(ctx, call{method: "GET", path: "/readyz", route: "GET /readyz", once: true}, nil)
	return err
}

// fetch makes the call and decodes its answer into a V.
func fetch[V any](ctx context.Context, c *Client, k call) (V, error) {
	var v V
	_, err := c.do(ctx, k, &v)
	return v, err
}

func keyOr(k string) string {
	if k == "" {
		return autoKey
	}
	return k
}
