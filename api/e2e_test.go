package api

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// TestHappyPath walks one buyer through the whole contract: concert, user, token,
// admission, seat map, hold (and re-hold), charge, payment, DONE, history.
func TestHappyPath(t *testing.T) {
	h := newHarness(t)
	f := h.fixture()

	// The fixture's token answered 201; asking again gives the same token with 200.
	r := h.do("POST", "/api/users/token", `{"userId":`+itoa(f.userID)+`,"concertId":`+itoa(f.concertID)+`}`, bearer(h.key(f.userID))...)
	if r.status != 200 {
		t.Fatalf("re-entering: status %d, want 200: %s", r.status, r.body)
	}
	m := r.json(t)
	if m["userToken"] != f.token || m["status"] != "WAITING" || number(t, m, "position") != 1 {
		t.Fatalf("re-entering: %v", m)
	}
	for _, k := range []string{"estimatedWaitSeconds", "pollAfterSeconds"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("token grant lacks %s: %v", k, m)
		}
	}

	m = h.mustStatus(200, "GET", "/api/queue/status", "", bearer(f.token)...)
	if m["status"] != "WAITING" || number(t, m, "concertId") != f.concertID || number(t, m, "position") != 1 ||
		number(t, m, "pollAfterSeconds") < 1 {
		t.Fatalf("waiting status: %v", m)
	}
	if _, ok := m["expiresAt"]; ok {
		t.Fatalf("a waiting status has expiresAt: %v", m)
	}

	// Catalog.
	m = h.mustStatus(200, "GET", "/api/concerts", "")
	concerts := m["concerts"].([]any)
	if len(concerts) != 1 || concerts[0].(map[string]any)["title"] != "Winter Gala" ||
		concerts[0].(map[string]any)["saleOpensAt"] != "2026-11-24T10:00:00Z" {
		t.Fatalf("concerts: %v", m)
	}
	m = h.mustStatus(200, "GET", "/api/concerts/schedules?concertId="+itoa(f.concertID), "")
	sched := m["availableSchedules"].([]any)
	if len(sched) != 1 {
		t.Fatalf("schedules: %v", m)
	}
	s0 := sched[0].(map[string]any)
	if number(t, s0, "concertScheduleId") != f.scheduleID || s0["concertDate"] != "2026-12-24" ||
		number(t, s0, "totalSeats") != 50 || number(t, s0, "availableSeats") != 50 || s0["concertTitle"] != "Winter Gala" {
		t.Fatalf("schedule: %v", s0)
	}

	// Not admitted yet: seats are refused.
	h.mustStatus(403, "GET", "/api/concerts/schedules/"+itoa(f.scheduleID)+"/seats", "", bearer(f.token)...)

	h.runEngine()
	m = h.waitActive(f.token)
	if exp, ok := m["expiresAt"].(string); !ok || !strings.HasSuffix(exp, "Z") || strings.Contains(exp, ".") {
		t.Fatalf("active status: %v", m)
	}
	if _, ok := m["position"]; ok {
		t.Fatalf("an active status has a position: %v", m)
	}

	seatsPath := "/api/concerts/schedules/" + itoa(f.scheduleID) + "/seats"
	m = h.mustStatus(200, "GET", seatsPath, "", bearer(f.token)...)
	seats := m["availableSeats"].([]any)
	if len(seats) != 50 || number(t, m, "concertScheduleId") != f.scheduleID {
		t.Fatalf("seat map: %d seats: %v", len(seats), m["concertScheduleId"])
	}
	for i, s := range seats {
		s := s.(map[string]any)
		if number(t, s, "seatNumber") != int64(i+1) || s["status"] != "available" || number(t, s, "price") != 50000 {
			t.Fatalf("seat %d: %v", i+1, s)
		}
	}

	hold := `{"concertScheduleId":` + itoa(f.scheduleID) + `,"seatNumber":3}`
	m = h.mustStatus(201, "POST", "/api/reservations", hold, bearer(f.token)...)
	resID := number(t, m, "reservationId")
	if m["status"] != "PENDING" || number(t, m, "seatNumber") != 3 || number(t, m, "price") != 50000 ||
		number(t, m, "concertScheduleId") != f.scheduleID {
		t.Fatalf("hold: %v", m)
	}
	if want := h.clk.Now().Add(5 * time.Minute).Truncate(time.Second).Format(time.RFC3339); m["expirationTime"] != want {
		t.Fatalf("expirationTime %v, want %s", m["expirationTime"], want)
	}
	m = h.mustStatus(200, "POST", "/api/reservations", hold, bearer(f.token)...)
	if number(t, m, "reservationId") != resID {
		t.Fatalf("re-hold gave another reservation: %v", m)
	}
	m = h.mustStatus(200, "GET", "/api/reservations/"+itoa(resID), "", bearer(f.token)...)
	if m["status"] != "PENDING" || number(t, m, "reservationId") != resID {
		t.Fatalf("reservation: %v", m)
	}

	// The seat map shows the hold once the engine's cached view is older than its window.
	h.clk.Advance(time.Second)
	m = h.mustStatus(200, "GET", seatsPath, "", bearer(f.token)...)
	if st := m["availableSeats"].([]any)[2].(map[string]any)["status"]; st != "pending" {
		t.Fatalf("held seat shows %v", st)
	}

	// Too little money first.
	pay := `{"reservationId":` + itoa(resID) + `,"paymentAmount":50000}`
	h.mustStatus(402, "POST", "/api/payments", pay, bearer(f.token)...)

	// Charge with an idempotency key, twice: one charge. The second uses the
	// legacy body token, which must work as well as the header.
	charge := `{"amount":80000}`
	m = h.mustStatus(200, "POST", "/api/users/balance/charge", charge, append(bearer(f.token), "Idempotency-Key", "charge-1")...)
	if m["status"] != "SUCCESS" || number(t, m, "currentBalance") != 80000 {
		t.Fatalf("charge: %v", m)
	}
	m = h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":80000,"userToken":"`+f.token+`"}`, "Idempotency-Key", "charge-1")
	if number(t, m, "currentBalance") != 80000 {
		t.Fatalf("idempotent retry charged again: %v", m)
	}
	h.mustStatus(409, "POST", "/api/users/balance/charge", `{"amount":1}`, append(bearer(f.token), "Idempotency-Key", "charge-1")...)

	h.mustStatus(400, "POST", "/api/payments", `{"reservationId":`+itoa(resID)+`,"paymentAmount":49999}`, bearer(f.token)...)
	m = h.mustStatus(201, "POST", "/api/payments", pay, append(bearer(f.token), "Idempotency-Key", "pay-1")...)
	if m["status"] != "COMPLETED" || number(t, m, "reservationId") != resID || number(t, m, "amount") != 50000 ||
		number(t, m, "currentBalance") != 30000 || number(t, m, "paymentId") < 1 {
		t.Fatalf("payment: %v", m)
	}

	m = h.mustStatus(200, "GET", "/api/queue/status", "", bearer(f.token)...)
	if len(m) != 2 || m["status"] != "DONE" || number(t, m, "concertId") != f.concertID {
		t.Fatalf("after paying: %v", m)
	}
	m = h.mustStatus(200, "GET", "/api/reservations/"+itoa(resID), "", bearer(f.token)...)
	if m["status"] != "PAID" {
		t.Fatalf("paid reservation: %v", m)
	}
	h.mustStatus(409, "DELETE", "/api/reservations/"+itoa(resID), "", bearer(f.token)...)

	m = h.mustStatus(200, "GET", "/api/users/balance", "", bearer(f.token)...)
	hist := m["balanceHistory"].([]any)
	if number(t, m, "currentBalance") != 30000 || len(hist) != 2 {
		t.Fatalf("balance: %v", m)
	}
	newest, oldest := hist[0].(map[string]any), hist[1].(map[string]any)
	if newest["transactionType"] != "payment" || number(t, newest, "amount") != -50000 ||
		oldest["transactionType"] != "charge" || number(t, oldest, "amount") != 80000 {
		t.Fatalf("history: %v", hist)
	}
	if _, err := time.Parse(time.RFC3339, newest["transactionDate"].(string)); err != nil {
		t.Fatalf("transactionDate: %v", err)
	}
	m = h.mustStatus(200, "GET", "/api/users/balance?limit=1", "", bearer(f.token)...)
	if len(m["balanceHistory"].([]any)) != 1 {
		t.Fatalf("limit=1: %v", m)
	}

	m = h.mustStatus(200, "GET", "/api/admin/concerts/"+itoa(f.concertID)+"/stats", "", admin()...)
	if number(t, m, "sold") != 1 || number(t, m, "held") != 0 || number(t, m, "seatsTotal") != 50 || number(t, m, "admittedTotal") != 1 {
		t.Fatalf("stats: %v", m)
	}
	for _, k := range []string{"waiting", "active"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("stats lacks %s: %v", k, m)
		}
	}
}

func TestCancelFreesSeat(t *testing.T) {
	h := newHarness(t)
	f := h.admitted()
	m := h.mustStatus(201, "POST", "/api/reservations", `{"concertScheduleId":`+itoa(f.scheduleID)+`,"seatNumber":7}`, bearer(f.token)...)
	id := itoa(number(t, m, "reservationId"))
	m = h.mustStatus(200, "DELETE", "/api/reservations/"+id, "", bearer(f.token)...)
	if m["status"] != "CANCELLED" || m["reservationId"].(float64) != float64(number(t, m, "reservationId")) {
		t.Fatalf("cancel: %v", m)
	}
	m = h.mustStatus(200, "GET", "/api/concerts/schedules/"+itoa(f.scheduleID)+"/seats", "", bearer(f.token)...)
	if st := m["availableSeats"].([]any)[6].(map[string]any)["status"]; st != "available" {
		t.Fatalf("cancelled seat shows %v", st)
	}
	// Another user cannot see it.
	other := h.user("lee")
	otherTok := h.enter(other, f.concertID)
	h.mustStatus(404, "GET", "/api/reservations/"+id, "", bearer(otherTok)...)
}

func TestPreQueueStatus(t *testing.T) {
	h := newHarness(t)
	c, _ := h.concert(`{"title":"Later","saleOpensAt":"2026-11-24T12:00:00Z","schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":10}]}`)
	tok := h.enter(h.user("park"), c)
	m := h.mustStatus(200, "GET", "/api/queue/status", "", bearer(tok)...)
	if m["status"] != "WAITING" || m["saleOpensAt"] != "2026-11-24T12:00:00Z" || number(t, m, "pollAfterSeconds") < 1 {
		t.Fatalf("pre-queue status: %v", m)
	}
	if _, ok := m["position"]; ok {
		t.Fatalf("pre-queue status has a position: %v", m)
	}
}

func TestAdminQueuePatch(t *testing.T) {
	h := newHarness(t)
	f := h.fixture()
	path := "/api/admin/concerts/" + itoa(f.concertID) + "/queue"
	m := h.mustStatus(200, "PATCH", path, `{"admitPerSecond":500,"paused":true}`, admin()...)
	if number(t, m, "admitPerSecond") != 500 || number(t, m, "maxActive") != 1000 || m["paused"] != true {
		t.Fatalf("patch: %v", m)
	}
	m = h.mustStatus(200, "PATCH", path, `{"maxActive":5000}`, admin()...)
	if number(t, m, "admitPerSecond") != 500 || number(t, m, "maxActive") != 5000 || m["paused"] != true {
		t.Fatalf("patch: %v", m)
	}
}

func TestSeatMapGzipAndCache(t *testing.T) {
	h := newHarness(t)
	c, s := h.concert(`{"title":"Big","schedules":[{"concertDate":"2026-12-24","seatCount":100000,"price":12345}]}`)
	tok := h.enter(h.user("choi"), c)
	h.runEngine()
	h.waitActive(tok)
	path := "/api/concerts/schedules/" + itoa(s[0]) + "/seats"

	plain := h.do("GET", path, "", bearer(tok)...)
	if plain.status != 200 || plain.headers["content-encoding"] != "" {
		t.Fatalf("plain: %d %v", plain.status, plain.headers)
	}
	var doc struct {
		ID    int64 `json:"concertScheduleId"`
		Seats []struct {
			N      int    `json:"seatNumber"`
			Status string `json:"status"`
			Price  int64  `json:"price"`
		} `json:"availableSeats"`
	}
	if err := json.Unmarshal(plain.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != s[0] || len(doc.Seats) != 100000 || doc.Seats[99999].N != 100000 || doc.Seats[0].Price != 12345 {
		t.Fatalf("seat map: id %d, %d seats", doc.ID, len(doc.Seats))
	}

	gz := h.do("GET", path, "", append(bearer(tok), "Accept-Encoding", "gzip")...)
	if gz.status != 200 || gz.headers["content-encoding"] != "gzip" || len(gz.body) >= len(plain.body)/4 {
		t.Fatalf("gzip: %d %v, %d bytes vs %d", gz.status, gz.headers, len(gz.body), len(plain.body))
	}
	unzipped, err := fasthttp.AppendGunzipBytes(nil, gz.body)
	if err != nil || !bytes.Equal(unzipped, plain.body) {
		t.Fatalf("gunzipped body differs (err %v)", err)
	}

	// Same view, same cached bytes; a new view, a new encoding.
	v1, err := h.e.SeatMap(context.Background(), mustToken(t, h, tok), s[0])
	if err != nil {
		t.Fatal(err)
	}
	b1 := h.srv.seatMaps.body(v1)
	if p1, p2 := b1.Plain(), b1.Plain(); h.srv.seatMaps.body(v1) != b1 || &p1[0] != &p2[0] {
		t.Fatal("the same view was encoded twice")
	}
	h.clk.Advance(time.Second)
	v2, err := h.e.SeatMap(context.Background(), mustToken(t, h, tok), s[0])
	if err != nil || v2 == v1 {
		t.Fatalf("expected a fresh view (err %v)", err)
	}
	if h.srv.seatMaps.body(v2) == b1 {
		t.Fatal("a new view reused the old encoding")
	}
}

func TestExpiredToken(t *testing.T) {
	h := newHarness(t)
	f := h.fixture()
	h.clk.Advance(25 * time.Hour)
	r := h.do("GET", "/api/queue/status", "", bearer(f.token)...)
	if r.status != 401 || r.json(t)["code"] != "TOKEN_EXPIRED" {
		t.Fatalf("expired token: %d %s", r.status, r.body)
	}
}

func TestUnavailable(t *testing.T) {
	h := newHarness(t)
	f := h.fixture()
	h.mustStatus(200, "GET", "/readyz", "")
	h.mr.Close()
	for _, path := range []string{"/api/queue/status", "/readyz"} {
		r := h.do("GET", path, "", bearer(f.token)...)
		m := r.json(t)
		if r.status != 503 || m["code"] != "UNAVAILABLE" || r.headers["retry-after"] != "1" {
			t.Fatalf("%s with redis down: %d %v %v", path, r.status, m, r.headers)
		}
		if path == "/readyz" && !strings.Contains(m["message"].(string), "redis") {
			t.Fatalf("readyz does not name redis: %v", m)
		}
	}
	h.mustStatus(200, "GET", "/healthz", "")
}

func TestPanicBecomesInternal(t *testing.T) {
	h := newHarness(t)
	h.srv.handle("GET", "/test/panic", func(context.Context, *fasthttp.RequestCtx) error { panic("boom") })
	m := h.mustStatus(500, "GET", "/test/panic", "")
	if m["code"] != "INTERNAL" || strings.Contains(m["message"].(string), "boom") {
		t.Fatalf("panic answer: %v", m)
	}
	// The server still answers afterwards.
	h.mustStatus(200, "GET", "/healthz", "")
	h.mustScrape(" (the panic's count)", `route="/test/panic",status="500"} 1`)
}

func TestServiceEndpoints(t *testing.T) {
	h := newHarness(t)
	m := h.mustStatus(200, "GET", "/healthz", "")
	if m["status"] != "ok" {
		t.Fatalf("healthz: %v", m)
	}
	h.mustStatus(404, "GET", "/nope", "")
	h.mustScrape("",
		"# TYPE concertd_http_requests_total counter",
		`concertd_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`concertd_http_requests_total{method="",route="unmatched",status="404"} 1`,
	)
}

func mustToken(t *testing.T, h *harness, raw string) engine.Token {
	t.Helper()
	tok, err := h.e.Authenticate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestCreateUserIdempotent: POST /api/users with an Idempotency-Key (concertd's
// addition to the contract) answers a retry with the first user, case and
// spacing of the email aside, and refuses the key for another user.
func TestCreateUserIdempotent(t *testing.T) {
	h := newHarness(t)
	body := `{"name":"Kim","email":"kim@example.com"}`
	first := number(t, h.mustStatus(201, "POST", "/api/users", body, "Idempotency-Key", "signup-1"), "userId")
	again := number(t, h.mustStatus(201, "POST", "/api/users", `{"name":"Kim","email":" KIM@example.com"}`,
		"Idempotency-Key", "signup-1"), "userId")
	if again != first {
		t.Fatalf("retry created user %d, first was %d", again, first)
	}
	m := h.mustStatus(409, "POST", "/api/users", `{"name":"Lee","email":"lee@example.com"}`, "Idempotency-Key", "signup-1")
	if m["code"] != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("key reused for another user: %v", m)
	}
	m = h.mustStatus(409, "POST", "/api/users", body)
	if m["code"] != "EMAIL_TAKEN" {
		t.Fatalf("same email without the key: %v", m)
	}
	// Lee's email was never taken by the refused request. (That no retry leaves a
	// second user behind is the ledger suite's IdempotentUserCreation.)
	if lee := number(t, h.mustStatus(201, "POST", "/api/users", `{"name":"Lee","email":"lee@example.com"}`), "userId"); lee == first {
		t.Fatalf("Lee got Kim's id %d", lee)
	}
}
