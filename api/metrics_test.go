package api

import (
	"strings"
	"testing"
	"time"
)

// TestMetricsAfterASale walks one buyer through a sale and checks the series an
// operator's dashboard relies on.
func TestMetricsAfterASale(t *testing.T) {
	h := newHarness(t)
	f := h.admitted()
	h.mustStatus(401, "POST", "/api/payments", `{"reservationId":1,"paymentAmount":1}`)
	res := h.mustStatus(201, "POST", "/api/reservations", `{"concertScheduleId":`+itoa(f.scheduleID)+`,"seatNumber":3}`, bearer(f.token)...)
	// A second hold keeps the token ACTIVE after the first is paid.
	h.mustStatus(201, "POST", "/api/reservations", `{"concertScheduleId":`+itoa(f.scheduleID)+`,"seatNumber":4}`, bearer(f.token)...)
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":50000}`, bearer(f.token)...)
	h.mustStatus(201, "POST", "/api/payments", `{"reservationId":`+itoa(number(t, res, "reservationId"))+`,"paymentAmount":50000}`, bearer(f.token)...)

	concert := `concert_id="` + itoa(f.concertID) + `"`
	h.mustScrape("",
		`concertd_http_requests_total{method="POST",route="/api/users",status="201"} 1`,
		`concertd_http_requests_total{method="POST",route="/api/payments",status="401"} 1`,
		`concertd_http_request_duration_seconds_bucket{method="GET",route="/api/queue/status",le="+Inf"}`,
		`concertd_http_request_duration_seconds_count{method="POST",route="/api/reservations"} 2`,
		`concertd_payments_total{outcome="COMPLETED"} 1`,
		`concertd_payments_total{outcome="TOKEN_MISSING"} 1`,
		`concertd_payments_total{outcome="INSUFFICIENT_BALANCE"} 0`,
		`concertd_admissions_total{`+concert+`} 1`,
		`concertd_concert_seats_sold{`+concert+`} 1`,
		`concertd_concert_seats_held{`+concert+`} 1`,
		`concertd_concert_seats_total{`+concert+`} 50`,
		`concertd_concert_waiting{`+concert+`} 0`,
		`concertd_concert_active{`+concert+`} 1`,
		`concertd_engine_scrape_success 1`,
		`go_goroutines `,
	)
}

// TestMetricsScrapeSurvivesOutage: with Redis down the scrape still answers, says
// the engine's counts are missing, and keeps the request series.
func TestMetricsScrapeSurvivesOutage(t *testing.T) {
	h := newHarness(t)
	h.fixture()
	h.mr.Close()
	h.mustScrape(" with redis down", "concertd_engine_scrape_success 0", `route="/api/users",status="201"} 1`)
}

// TestMetricsCountHoldExpiries: a hold left to expire is counted once, under the
// periodic sweep's path (miniredis sends no keyspace events, so no listener hint).
func TestMetricsCountHoldExpiries(t *testing.T) {
	h := newHarness(t)
	f := h.admitted()
	h.mustStatus(201, "POST", "/api/reservations", `{"concertScheduleId":`+itoa(f.scheduleID)+`,"seatNumber":5}`, bearer(f.token)...)
	h.clk.Advance(6 * time.Minute) // past the 5-minute hold, inside the 10-minute lease
	h.waitScrape(`concertd_hold_expiries_total{path="sweeper"} 1`, `concertd_hold_expiries_total{path="listener"} 0`)
}

// TestMetricsCountPollsFromCache: a far-back waiter polling twice within a second
// is answered once by Redis and once from memory, with the same body, and the
// counter says so; a waiter at the front is never answered from memory.
func TestMetricsCountPollsFromCache(t *testing.T) {
	h := newHarness(t)
	c, _ := h.concert(`{"title":"Spring","queue":{"admitPerSecond":1,"maxActive":1,"paused":true},
		"schedules":[{"concertDate":"2026-12-24","seatCount":10,"price":1000}]}`)
	var first, last string
	for i := range 120 {
		tok := h.enter(h.user("fan"+itoa(int64(i))), c)
		if i == 0 {
			first = tok
		}
		last = tok
	}
	poll := func(tok string) string {
		return string(h.do("GET", "/api/queue/status", "", bearer(tok)...).body)
	}
	const want = "\nconcertd_polls_from_cache_total 1\n"
	a, b := poll(last), poll(last)
	if a != b || !strings.Contains(a, `"position":120`) {
		t.Fatalf("two polls of the 120th waiter: %s then %s", a, b)
	}
	poll(first)
	poll(first)
	h.mustScrape(" (the 120th waiter's second poll only)", want)
	h.clk.Advance(time.Second)
	poll(last)
	h.mustScrape(" (an answer a second old is not reused)", want)
}

// A rival's second try on a held seat is refused from the instance's seat view:
// the same 409 SEAT_TAKEN, counted in concertd_holds_refused_from_memory_total.
func TestMetricsCountHoldsRefusedFromMemory(t *testing.T) {
	h := newHarness(t)
	f := h.fixture()
	rival := h.enter(h.user("lee"), f.concertID)
	h.runEngine()
	h.waitActive(f.token)
	h.waitActive(rival)
	hold := `{"concertScheduleId":` + itoa(f.scheduleID) + `,"seatNumber":7}`
	h.mustStatus(201, "POST", "/api/reservations", hold, bearer(f.token)...)
	for range 2 {
		m := h.mustStatus(409, "POST", "/api/reservations", hold, bearer(rival)...)
		if m["code"] != "SEAT_TAKEN" {
			t.Fatalf("rival's hold: %v, want SEAT_TAKEN", m)
		}
	}
	h.mustStatus(200, "POST", "/api/reservations", hold, bearer(f.token)...) // the holder still asks Redis
	const want = "\nconcertd_holds_refused_from_memory_total 1\n"
	h.mustScrape(" (the rival's second try only)", want)
}
