package api

import (
	"sync"
	"testing"
)

// TestPayTwiceOverHTTP: a double click on "Pay" over HTTP. Concurrent attempts at
// one reservation, without an Idempotency-Key, give exactly one 201; every other
// is 409 ALREADY_PAID (never a 503 or a 401), also once the token is DONE; the
// money is taken once.
func TestPayTwiceOverHTTP(t *testing.T) {
	h := newHarness(t)
	h.runEngine()
	f := h.fixture()
	h.waitActive(f.token)
	tok := bearer(f.token)
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":100000}`, tok...)
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
