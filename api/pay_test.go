package api

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/concertd/concertd/client"
)

// TestPayManyJourney: best three together, one payment of all three over HTTP,
// the refusals that change nothing, and an idempotent retry.
func TestPayManyJourney(t *testing.T) {
	h := newHarness(t)
	f, tok := h.buyer(1000000)
	m := h.mustStatus(201, "POST", "/api/reservations/best", `{"concertScheduleId":`+itoa(f.scheduleID)+`,"quantity":3}`, tok...)
	var ids []string
	for _, r := range m["reservations"].([]any) {
		ids = append(ids, itoa(number(t, r.(map[string]any), "reservationId")))
	}
	if len(ids) != 3 {
		t.Fatalf("reservations %v", m["reservations"])
	}
	list := strings.Join(ids, ",")
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"reservationIds":[` + list + `],"paymentAmount":149999}`, 400, "AMOUNT_MISMATCH"},
		{`{"reservationIds":[` + ids[0] + `,` + ids[1] + `],"paymentAmount":150000}`, 400, "AMOUNT_MISMATCH"},
		{`{"reservationId":` + ids[0] + `,"reservationIds":[` + list + `],"paymentAmount":150000}`, 400, "BAD_REQUEST"},
		{`{"reservationIds":[],"paymentAmount":150000}`, 400, "BAD_REQUEST"},
		{`{"reservationIds":[` + ids[0] + `,` + ids[0] + `],"paymentAmount":100000}`, 400, "BAD_REQUEST"},
		{`{"reservationIds":[` + list + `,` + "900001,900002" + `],"paymentAmount":250000}`, 400, "BAD_REQUEST"},
		{`{"reservationIds":[` + ids[0] + `,1.5],"paymentAmount":100000}`, 400, "BAD_REQUEST"},
		{`{"reservationIds":"` + ids[0] + `","paymentAmount":50000}`, 400, "BAD_REQUEST"},
		{`{"reservationIds":[` + list + `,900001],"paymentAmount":200000}`, 404, "RESERVATION_NOT_FOUND"},
	} {
		m := h.mustStatus(tc.status, "POST", "/api/payments", tc.body, tok...)
		if m["code"] != tc.code {
			t.Errorf("%s: code %v, want %s", tc.body, m["code"], tc.code)
		}
	}
	bal := h.mustStatus(200, "GET", "/api/users/balance", "", tok...)
	if number(t, bal, "currentBalance") != 1_000_000 {
		t.Fatalf("balance %v after refused payments", bal)
	}

	body := `{"reservationIds":[` + list + `],"paymentAmount":150000}`
	paid := h.mustStatus(201, "POST", "/api/payments", body, append(tok, "Idempotency-Key", "many-1")...)
	if paid["status"] != "COMPLETED" || number(t, paid, "amount") != 150000 || number(t, paid, "currentBalance") != 850000 ||
		fmt.Sprint(paid["reservationIds"]) != fmt.Sprint(m2f(ids)) || paid["reservationId"] != nil {
		t.Fatalf("payment %v; want reservationIds %v, amount 150000, balance 850000", paid, ids)
	}
	again := h.mustStatus(201, "POST", "/api/payments", body, append(tok, "Idempotency-Key", "many-1")...)
	if number(t, again, "paymentId") != number(t, paid, "paymentId") || number(t, again, "currentBalance") != 850000 {
		t.Fatalf("retry %v, want %v", again, paid)
	}
	other := `{"reservationIds":[` + ids[1] + `,` + ids[0] + `],"paymentAmount":100000}`
	if m := h.mustStatus(409, "POST", "/api/payments", other, append(tok, "Idempotency-Key", "many-1")...); m["code"] != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("key reused: %v", m)
	}
	if m := h.mustStatus(409, "POST", "/api/payments", body, tok...); m["code"] != "ALREADY_PAID" {
		t.Fatalf("paying again without a key: %v", m)
	}
	bal = h.mustStatus(200, "GET", "/api/users/balance", "", tok...)
	hist := bal["balanceHistory"].([]any)
	newest := hist[0].(map[string]any)
	if number(t, bal, "currentBalance") != 850000 || len(hist) != 2 || newest["transactionType"] != "payment" || number(t, newest, "amount") != -150000 {
		t.Fatalf("balance %v; want 850000 with one payment of -150000", bal)
	}
	if st := h.mustStatus(200, "GET", "/api/queue/status", "", tok...); st["status"] != "DONE" {
		t.Fatalf("token %v, want DONE", st)
	}
}

// m2f is ids as the JSON decoder gives numbers back.
func m2f(ids []string) []any {
	out := make([]any, len(ids))
	for i, s := range ids {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			panic("m2f: " + s + " is not a number") // a test's own literal
		}
		out[i] = n
	}
	return out
}

// TestPayManyThroughClient: the Go client's Pay with ReservationIDs against the
// real server, and its answer read back.
func TestPayManyThroughClient(t *testing.T) {
	h := newHarness(t)
	f := h.admitted()
	ctx := t.Context()
	if _, err := h.api.Charge(ctx, f.token, client.ChargeRequest{Amount: 200_000}); err != nil {
		t.Fatal(err)
	}
	rs, err := h.api.HoldBest(ctx, f.token, client.BestRequest{ScheduleID: f.scheduleID, Quantity: 2})
	if err != nil || len(rs) != 2 {
		t.Fatalf("HoldBest = %v, %v", rs, err)
	}
	ids := []int64{rs[0].ReservationID, rs[1].ReservationID}
	p, err := h.api.Pay(ctx, f.token, client.PayRequest{ReservationIDs: ids, PaymentAmount: rs[0].Price + rs[1].Price, IdempotencyKey: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != "COMPLETED" || p.PaymentID == 0 || !slices.Equal(p.ReservationIDs, ids) || p.ReservationID != 0 ||
		p.Amount != 100_000 || p.CurrentBalance != 100_000 {
		t.Fatalf("payment %+v; want reservations %v, amount 100000, balance 100000", p, ids)
	}
}

// TestPayTwiceOverHTTP: a double click on "Pay" over HTTP. Concurrent attempts at
// one reservation, without an Idempotency-Key, give exactly one 201; every other
// is 409 ALREADY_PAID (never a 503 or a 401), also once the token is DONE; the
// money is taken once.
func TestPayTwiceOverHTTP(t *testing.T) {
	h := newHarness(t)
	f, tok := h.buyer(100000)
	r := h.mustStatus(201, "POST", "/api/reservations", `{"concertScheduleId":`+itoa(f.scheduleID)+`,"seatNumber":7}`, tok...)
	pay := `{"reservationId":` + itoa(number(t, r, "reservationId")) + `,"paymentAmount":50000}`

	const clicks = 8
	statuses := make([]int, clicks)
	codes := make([]any, clicks)
	var wg sync.WaitGroup
	for i := range clicks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := h.request(t, "POST", "/api/payments", pay, tok...)
			statuses[i] = resp.status
			codes[i] = resp.json(t)["code"]
		}()
	}
	wg.Wait()
	created := 0
	for i, s := range statuses {
		switch {
		case s == 201:
			created++
		case s == 409 && codes[i] == "ALREADY_PAID":
		default:
			t.Errorf("click %d: %d %v, want 201 or 409 ALREADY_PAID", i, s, codes[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d payments created, want exactly 1 (%v)", created, statuses)
	}
	// The token is DONE now; paying again is still ALREADY_PAID, not TOKEN_EXPIRED.
	if m := h.mustStatus(409, "POST", "/api/payments", pay, tok...); m["code"] != "ALREADY_PAID" {
		t.Fatalf("after the payment: %v, want ALREADY_PAID", m)
	}
	if b := h.mustStatus(200, "GET", "/api/users/balance", "", tok...); number(t, b, "currentBalance") != 50000 {
		t.Fatalf("balance %v, want 100000 - one seat of 50000", b)
	}
}
