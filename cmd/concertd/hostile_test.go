package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/test/rushtest"
)

// TestHostileInput sends malformed, oversized, mistyped and injection-shaped
// requests to every endpoint, byte for byte as written, and holds the server to
// the contract: never a 5xx, and no state changes (stats, balances and the ledger
// are the same afterwards).
func TestHostileInput(t *testing.T) {
	cfg := testConfig(t)
	in := start(t, cfg)
	ctx := ctxFor(t, 60*time.Second)
	c := rushtest.NewClient(testAdminKey, in.base)
	cid, sid, err := c.Concert(ctx, 10, 1000, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b := newBuyer(t, ctx, c, cid, 5000).admitted(t, ctx, c)
	res := mustDo(t, ctx, c, 201, "", "POST", "/api/reservations", map[string]any{"concertScheduleId": sid, "seatNumber": 1}, rushtest.Bearer(b.token)...)
	rid := itoa(res.Int("reservationId"))

	snapshot := func() string {
		st := mustDo(t, ctx, c, 200, "", "GET", "/api/admin/concerts/"+itoa(cid)+"/stats", nil, c.Admin()...)
		bal := mustDo(t, ctx, c, 200, "", "GET", "/api/users/balance", nil, rushtest.Bearer(b.token)...)
		r := mustDo(t, ctx, c, 200, "", "GET", "/api/reservations/"+rid, nil, rushtest.Bearer(b.token)...)
		led, err := rushtest.ReadLedger(ctx, cfg.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		concerts, _ := queryInt(ctx, cfg.DatabaseURL, `SELECT count(*) FROM concerts`)
		return fmt.Sprintf("stats %s | balance %d | reservation %s | ledger %+v | concerts %d",
			st.Body, bal.Int("currentBalance"), r.Str("status"), led, concerts)
	}
	before := snapshot()

	auth := "Bearer " + b.token
	type endpoint struct{ method, path string }
	// DELETE of the real reservation is left out: with real credentials it is a
	// well-formed cancel whatever body comes with it. Hostile DELETE paths are below.
	endpoints := []endpoint{
		{"POST", "/api/users"}, {"POST", "/api/users/token"}, {"GET", "/api/queue/status"},
		{"GET", "/api/concerts"}, {"GET", "/api/concerts/schedules"}, {"GET", "/api/concerts/schedules/" + itoa(sid) + "/seats"},
		{"POST", "/api/reservations"}, {"GET", "/api/reservations/" + rid},
		{"POST", "/api/users/balance/charge"}, {"GET", "/api/users/balance"}, {"POST", "/api/payments"},
		{"POST", "/api/admin/concerts"}, {"PATCH", "/api/admin/concerts/" + itoa(cid) + "/queue"},
		{"GET", "/api/admin/concerts/" + itoa(cid) + "/stats"},
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	bodies := []string{
		`{`, `}`, `[]`, `null`, `"x"`, `0`, `{"a":`, deep, strings.Repeat("x", 70<<10),
		`{"amount":"100"}`, `{"amount":-1}`, `{"amount":0}`, `{"amount":1.5}`, `{"amount":1e309}`, `{"amount":99999999999999999999}`,
		`{"amount":10000001}`, `{"amount":1,"amount":-1}`, `{"amount":null}`, `{"amount":[1]}`, `{"amount":{"$gt":0}}`,
		`{"reservationId":` + rid + `,"paymentAmount":"1000"}`, `{"reservationId":"` + rid + `","paymentAmount":1000}`,
		`{"reservationId":` + rid + `,"paymentAmount":999}`, `{"reservationId":-` + rid + `,"paymentAmount":1000}`,
		`{"concertScheduleId":` + itoa(sid) + `,"seatNumber":"1; DROP TABLE sales;--"}`,
		`{"concertScheduleId":"redis.call('FLUSHALL')","seatNumber":2}`,
		`{"concertScheduleId":` + itoa(sid) + `,"seatNumber":0}`, `{"concertScheduleId":` + itoa(sid) + `,"seatNumber":11}`,
		`{"concertScheduleId":` + itoa(sid) + `,"seatNumber":4294967298}`,
		`{"userId":9223372036854775808,"concertId":1}`, `{"userId":"1 OR 1=1","concertId":1}`, `{"userId":0,"concertId":0}`,
		`{"name":"","email":""}`, `{"name":"x","email":"no-at-sign"}`, `{"name":1,"email":2}`,
		`{"name":"` + strings.Repeat("é", 40000) + `","email":"x@example.com"}`,
		"{\"name\":\"\xff\xfe\",\"email\":\"bad-utf8@example.com\"}", "\xef\xbb\xbf{\"amount\":1}",
		`{"title":"","schedules":[]}`, `{"title":"x","schedules":[{"concertDate":"2030-02-30","seatCount":1,"price":1}]}`,
		`{"title":"x","schedules":[{"concertDate":"2030-01-01","seatCount":100001,"price":1}]}`,
		`{"title":"x","schedules":[{"concertDate":"2030-01-01","seatCount":1,"price":-1}]}`,
		`{"admitPerSecond":-1}`, `{"maxActive":"all"}`, `{"paused":"yes"}`, `{"admitPerSecond":1e20}`,
		`{"userToken":"` + b.token + `","amount":"1"}`,
	}
	// Requests as raw bytes: the body is what a hostile client writes, not what
	// a well-behaved encoder would.
	raw := func(method, path, body string, headers ...string) []byte {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s %s HTTP/1.1\r\nHost: concertd\r\nConnection: close\r\n", method, path)
		for i := 0; i+1 < len(headers); i += 2 {
			fmt.Fprintf(&sb, "%s: %s\r\n", headers[i], headers[i+1])
		}
		if body != "" {
			fmt.Fprintf(&sb, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
		}
		sb.WriteString("\r\n")
		sb.WriteString(body)
		return []byte(sb.String())
	}
	sent, unanswered := 0, 0
	check := func(what string, req []byte) {
		t.Helper()
		sent++
		status, body, err := rawRequest(in.base, req)
		if err != nil {
			// Closing the connection on a request it cannot parse is the server's
			// right; answering it with a 5xx is not.
			unanswered++
			return
		}
		if status >= 500 {
			t.Errorf("%s: %d %s", what, status, body)
		}
	}
	// With real credentials, so that only the input itself can be the reason
	// for a refusal.
	creds := []string{"Authorization", auth, "X-Admin-Key", testAdminKey}
	for _, ep := range endpoints {
		for i, body := range bodies {
			check(fmt.Sprintf("%s %s body #%d", ep.method, ep.path, i), raw(ep.method, ep.path, body, creds...))
		}
	}

	paths := []string{
		"/api/reservations/../admin/concerts", "/api/reservations/%2e%2e/%2e%2e/admin/concerts/" + itoa(cid) + "/stats",
		"/api/reservations/%00", "/api/reservations/" + rid + "%00", "/api/reservations/" + strings.Repeat("9", 5000),
		"/api/reservations/1'%20OR%20'1'='1", "/api/reservations/redis.call('DEL','x')", "/api/reservations/-1",
		"/api/reservations/0x10", "/api/reservations/1e3", "/api/reservations/%F0%9F%8E%B5", "/api/reservations/\xf0\x9f\x8e\xb5",
		"/api/concerts/schedules/" + itoa(sid) + "%2F..%2F/seats", "/api/concerts/schedules/99999999999999999999/seats",
		"/api/admin/concerts/0/stats", "/api/admin/concerts/-" + itoa(cid) + "/stats", "/api/admin/concerts/1;DROP%20TABLE%20users/stats",
		"/api/users/balance?limit=-1", "/api/users/balance?limit=1e3", "/api/users/balance?limit=%00", "/api/users/balance?limit=201",
		"/api/concerts/schedules?concertId=1;DROP", "/api/concerts/schedules?concertId=" + strings.Repeat("1", 3000),
		"/" + strings.Repeat("a/", 2000), "/api/queue/status/../../healthz", "//api//users", "/api/users/token?userId=1",
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"} {
			check(m+" "+p, raw(m, p, `{"amount":"x"}`, creds...))
		}
	}

	headers := [][]string{
		{"Authorization", "Bearer " + strings.Repeat("A", 3000)},
		{"Authorization", "Bearer " + strings.Repeat("A", 200000)},
		{"Authorization", strings.Repeat("Bearer ", 500)},
		{"Authorization", "Basic YWRtaW46YWRtaW4="}, {"Authorization", "Bearer"}, {"Authorization", "Bearer  " + b.token + " x"},
		{"Authorization", "Bearer " + b.token + "\x00"}, {"Authorization", "Bearer \xf0\x9f\x8e\xb5"},
		{"Authorization", "Bearer ' OR 1=1 --"},
		{"Authorization", auth, "Idempotency-Key", strings.Repeat("k", 129)},
		{"Authorization", auth, "Idempotency-Key", "k\x01ey"}, {"Authorization", auth, "Idempotency-Key", "ключ"},
		{"Authorization", auth, "Idempotency-Key", "\x7f"}, {"Authorization", auth, "Idempotency-Key", strings.Repeat("k", 100000)},
		{"Authorization", auth, "Content-Length", "-1"}, {"Authorization", auth, "Transfer-Encoding", "chunked, identity"},
		{"X-Admin-Key", strings.Repeat("k", 100000)}, {"X-Admin-Key", testAdminKey + "\x00"},
	}
	for _, ep := range endpoints {
		for i, h := range headers {
			// A valid-looking charge and payment body: only the header is wrong, so
			// a server that ignored the bad header would change the balance.
			body := `{"amount":"1"}`
			if ep.path == "/api/users/balance/charge" {
				body = `{"amount":1}`
			}
			if ep.path == "/api/payments" {
				body = `{"reservationId":` + rid + `,"paymentAmount":1000}`
			}
			check(fmt.Sprintf("%s %s header #%d", ep.method, ep.path, i), raw(ep.method, ep.path, body, h...))
		}
	}
	t.Logf("%d hostile requests, %d closed without an answer", sent, unanswered)

	if after := snapshot(); after != before {
		t.Fatalf("state changed under hostile input:\nbefore %s\nafter  %s", before, after)
	}
	// The server still serves well-formed requests after all that.
	mustDo(t, context.Background(), c, 200, "", "GET", "/api/queue/status", nil, rushtest.Bearer(b.token)...)
}
