package api

import (
	"fmt"
	"testing"
)

// TestBestAvailableJourney: a concert laid out in sections, its seat map's
// labels and prices, best-available holds, paying for one, and the refusals.
func TestBestAvailableJourney(t *testing.T) {
	h := newHarness(t)
	h.runEngine()
	c, s := h.concert(`{"title":"Arena","queue":{"admitPerSecond":100,"maxActive":1000},
		"schedules":[{"concertDate":"2026-12-24","sections":[
			{"name":"VIP","price":150000,"rows":1,"seatsPerRow":4},
			{"name":"R","price":90000,"rows":2,"seatsPerRow":6}]}]}`)
	u := h.user("lee")
	tok := h.enter(u, c)
	h.waitActive(tok)
	sched := itoa(s[0])

	m := h.mustStatus(200, "GET", "/api/concerts/schedules/"+sched+"/seats", "", bearer(tok)...)
	seats := m["availableSeats"].([]any)
	if len(seats) != 16 {
		t.Fatalf("%d seats, want 16", len(seats))
	}
	for _, want := range []struct {
		n     int
		label string
		price float64
	}{{1, "VIP-1-1", 150000}, {4, "VIP-1-4", 150000}, {5, "R-1-1", 90000}, {16, "R-2-6", 90000}} {
		seat := seats[want.n-1].(map[string]any)
		if seat["label"] != want.label || seat["price"] != want.price {
			t.Errorf("seat %d = %v, want label %s price %v", want.n, seat, want.label, want.price)
		}
	}

	// The named section's front row, the middle pair.
	m = h.mustStatus(201, "POST", "/api/reservations/best", `{"concertScheduleId":`+sched+`,"quantity":2,"section":"R"}`, bearer(tok)...)
	rs := m["reservations"].([]any)
	if len(rs) != 2 {
		t.Fatalf("reservations %v", rs)
	}
	var ids []int64

	for i, want := range []int64{7, 8} {
		r := rs[i].(map[string]any)
		if number(t, r, "seatNumber") != want || number(t, r, "price") != 90000 || r["status"] != "PENDING" {
			t.Fatalf("reservation %d = %v, want seat %d at 90000", i, r, want)
		}
		ids = append(ids, number(t, r, "reservationId"))
	}
	// The holds are ordinary reservations: readable and payable one by one.
	h.mustStatus(200, "GET", "/api/reservations/"+itoa(ids[0]), "", bearer(tok)...)
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":1000000}`, bearer(tok)...)
	h.mustStatus(201, "POST", "/api/payments", fmt.Sprintf(`{"reservationId":%d,"paymentAmount":90000}`, ids[0]), bearer(tok)...)

	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"concertScheduleId":` + sched + `,"quantity":2,"section":"Balcony"}`, 400, "INVALID_SEAT"},
		{`{"concertScheduleId":` + sched + `,"quantity":0}`, 400, "BAD_REQUEST"},
		{`{"concertScheduleId":` + sched + `,"quantity":5}`, 400, "BAD_REQUEST"},
		{`{"concertScheduleId":` + sched + `}`, 400, "BAD_REQUEST"},
		{`{"concertScheduleId":` + sched + `,"quantity":2,"section":""}`, 400, "BAD_REQUEST"},
		{`{"concertScheduleId":` + sched + `,"quantity":4,"section":"VIP"}`, 409, "HOLD_LIMIT_REACHED"},
		{`{"concertScheduleId":999,"quantity":1}`, 404, "SCHEDULE_NOT_FOUND"},
	} {
		m := h.mustStatus(tc.status, "POST", "/api/reservations/best", tc.body, bearer(tok)...)
		if m["code"] != tc.code {
			t.Errorf("%s: code %v, want %s", tc.body, m["code"], tc.code)
		}
	}
	// Three seats of VIP's single row of four: held, then no run of two is left there.
	m = h.mustStatus(201, "POST", "/api/reservations/best", `{"concertScheduleId":`+sched+`,"quantity":3,"section":"VIP"}`, bearer(tok)...)
	if n := len(m["reservations"].([]any)); n != 3 {
		t.Fatalf("%d reservations", n)
	}
	other := h.user("park")
	tok2 := h.enter(other, c)
	h.waitActive(tok2)
	if m := h.mustStatus(409, "POST", "/api/reservations/best", `{"concertScheduleId":`+sched+`,"quantity":2,"section":"VIP"}`, bearer(tok2)...); m["code"] != "SEATS_UNAVAILABLE" {
		t.Fatalf("code %v", m["code"])
	}
}
