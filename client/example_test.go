package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/concertd/concertd/client"
)

// fakeConcertd answers the few routes the examples use the way concertd does;
// a real program passes the server's URL to client.New instead.
func fakeConcertd() *httptest.Server {
	answers := map[string]string{
		"POST /api/users":                     `201 {"userId":7,"userKey":"uk-7"}`,
		"POST /api/users/token":               `201 {"userToken":"tok-7","status":"WAITING","position":1,"pollAfterSeconds":1}`,
		"GET /api/queue/status":               `200 {"concertId":1,"status":"ACTIVE","expiresAt":"2026-11-24T10:25:00Z"}`,
		"GET /api/concerts/schedules/1/seats": `200 {"concertScheduleId":1,"availableSeats":[{"seatNumber":1,"status":"reserved","price":50000},{"seatNumber":2,"status":"available","price":50000}]}`,
		"POST /api/reservations":              `201 {"reservationId":123,"status":"PENDING","concertScheduleId":1,"seatNumber":2,"price":50000,"expirationTime":"2026-11-24T10:15:00Z"}`,
		"POST /api/users/balance/charge":      `200 {"status":"SUCCESS","currentBalance":50000}`,
		"POST /api/payments":                  `201 {"status":"COMPLETED","paymentId":789,"reservationId":123,"amount":50000,"currentBalance":0}`,
		"POST /api/admin/concerts":            `201 {"concertId":1,"scheduleIds":[1]}`,
		"GET /api/admin/concerts/1/stats":     `200 {"waiting":0,"active":1,"admittedTotal":1,"held":0,"sold":1,"seatsTotal":2}`,
		"POST /api/reservations/best":         `409 {"code":"SEATS_UNAVAILABLE","message":"no 4 seats side by side are left"}`,
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.Method+" "+r.URL.Path]
		if !ok {
			a = `404 {"code":"NOT_FOUND","message":"no such route"}`
		}
		status, body, _ := strings.Cut(a, " ")
		w.Header().Set("Content-Type", "application/json")
		var code int
		_, _ = fmt.Sscan(status, &code)
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
}

// A buyer's whole visit: register, enter the waiting room, wait to be admitted,
// pick a free seat, hold it and pay.
func Example() {
	srv := fakeConcertd()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL)

	u, _ := c.CreateUser(ctx, client.CreateUserRequest{Name: "Kim", Email: "kim@example.com"})
	q, _ := c.EnterQueue(ctx, u.UserKey, client.EnterRequest{ConcertID: 1, UserID: u.UserID})
	for q.Status == client.Waiting {
		// A real client sleeps q.PollAfterSeconds here.
		st, _ := c.QueueStatus(ctx, q.UserToken)
		q.Status = st.Status
	}
	m, _ := c.SeatMap(ctx, q.UserToken, 1)
	seat := m.Available()[0]
	r, _ := c.Hold(ctx, q.UserToken, client.HoldRequest{ScheduleID: 1, SeatNumber: seat})
	_, _ = c.Charge(ctx, u.UserKey, client.ChargeRequest{Amount: r.Price})
	p, err := c.Pay(ctx, q.UserToken, client.PayRequest{ReservationID: r.ReservationID, PaymentAmount: r.Price})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("user %d paid %d won for seat %d: payment %d, balance %d\n", u.UserID, p.Amount, r.SeatNumber, p.PaymentID, p.CurrentBalance)
	// Output: user 7 paid 50000 won for seat 2: payment 789, balance 0
}

// Refusals carry the contract's code: branch on it with IsCode, or reach the
// whole answer with errors.As.
func ExampleIsCode() {
	srv := fakeConcertd()
	defer srv.Close()
	c := client.New(srv.URL)

	_, err := c.HoldBest(context.Background(), "tok-7", client.BestRequest{ScheduleID: 1, Quantity: 4})
	if client.IsCode(err, "SEATS_UNAVAILABLE") {
		fmt.Println("sold out in blocks of 4; try fewer seats")
	}
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code, e.Message)
	}
	// Output:
	// sold out in blocks of 4; try fewer seats
	// 409 SEATS_UNAVAILABLE no 4 seats side by side are left
}

// An operator creates a concert with a venue layout and reads its counts.
func ExampleClient_CreateConcert() {
	srv := fakeConcertd()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, client.WithAdminKey("an-admin-key-of-at-least-32-characters"))

	created, err := c.CreateConcert(ctx, client.NewConcert{
		Title: "Winter Gala",
		Queue: &client.QueueSettings{AdmitPerSecond: 500, MaxActive: 5000, MaxTicketsPerUser: 4},
		Schedules: []client.NewSchedule{{ConcertDate: "2026-12-24", Sections: []client.Section{
			{Name: "VIP", Price: 150000, Rows: 5, SeatsPerRow: 20},
			{Name: "R", Price: 90000, Rows: 20, SeatsPerRow: 30},
		}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	st, _ := c.Stats(ctx, created.ConcertID)
	fmt.Printf("concert %d, schedules %v: %d sold of %d\n", created.ConcertID, created.ScheduleIDs, st.Sold, st.SeatsTotal)
	// Output: concert 1, schedules [1]: 1 sold of 2
}

// Solve finds the nonce a concert's proof of work asks for; EnterQueue calls it
// by itself when the server answers PROOF_REQUIRED.
func ExampleSolve() {
	nonce := client.Solve("c1.1764000000.abc", 8)
	fmt.Println(client.Verify([]byte("c1.1764000000.abc:"+nonce), 8))
	// Output: true
}

// A client WithRetries waits out a 503 (as long as Retry-After says, within the
// cap) and sends the charge again under the same Idempotency-Key, so the server
// charges it once whatever happened to the first attempt.
func ExampleWithRetries() {
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts++
		w.Header().Set("Content-Type", "application/json")
		if attempts == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"code":"UNAVAILABLE","message":"database"}`)
			return
		}
		fmt.Fprint(w, `{"status":"SUCCESS","currentBalance":50000}`)
	}))
	defer srv.Close()
	c := client.New(srv.URL, client.WithRetries(3, 10*time.Millisecond))

	ch, err := c.Charge(context.Background(), "uk-7", client.ChargeRequest{Amount: 50000})
	fmt.Println(ch.Status, ch.CurrentBalance, err, "after", attempts, "attempts")
	// Output: SUCCESS 50000 <nil> after 2 attempts
}
