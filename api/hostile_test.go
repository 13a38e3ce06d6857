package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// badInputCase is one request of TestBadInput and the status and code it must get.
type badInputCase struct {
	name         string
	method, path string
	body         string
	headers      []string
	status       int
	code         string
}

// badPathIDs is one case per malformed path id (named "<what>: id <kind>"), each
// of them 400 BAD_REQUEST: prefix + id + suffix is the path.
func badPathIDs(what, method, prefix, suffix string, headers []string) []badInputCase {
	var out []badInputCase
	for _, id := range []struct{ kind, id string }{
		{"word", "abc"}, {"zero", "0"}, {"negative", "-3"}, {"plus", "+1"},
		{"fraction", "1.5"}, {"overflow", "99999999999999999999"},
	} {
		out = append(out, badInputCase{what + ": id " + id.kind, method, prefix + id.id + suffix, "", headers, 400, "BAD_REQUEST"})
	}
	return out
}

// TestBadInput hits every endpoint with what a careless or hostile client sends
// and checks the exact contract status and code, that no answer is a 500, and that
// nothing changed afterwards.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	f := h.fixture()
	otherConcert, otherSchedules := h.concert(`{"title":"Other","schedules":[{"concertDate":"2026-12-25","seatCount":5,"price":10}]}`)
	// Tokens stay WAITING: the engine's admission loop is not running.
	waiting := f.token
	forged := waiting[:len(waiting)-2] + flip(waiting[len(waiting)-2:])
	// A well-formed token for the same user and concert, signed with another key.
	parts := strings.Split(waiting, ".")
	otherKey := strings.Join(parts[:len(parts)-1], ".") + ".AAAAAAAAAAAAAAAAAAAAAAAA"

	sid := itoa(f.scheduleID)
	big := `{"name":"` + strings.Repeat("x", 70<<10) + `","email":"a@example.com"}`
	auth := bearer(waiting)
	withAuth := func(h ...string) []string { return append(bearer(waiting), h...) }
	userKey := h.key(f.userID)
	key := bearer(userKey)
	keyParts := strings.Split(userKey, ".")
	if len(keyParts) != 4 {
		t.Fatalf("user key %q: want uk1.<id>.<gen>.<mac>", userKey)
	}

	cases := []badInputCase{
		// POST /api/users
		{"user: empty body", "POST", "/api/users", "", nil, 400, "BAD_REQUEST"},
		{"user: array", "POST", "/api/users", `[]`, nil, 400, "BAD_REQUEST"},
		{"user: null", "POST", "/api/users", `null`, nil, 400, "BAD_REQUEST"},
		{"user: string", "POST", "/api/users", `"kim"`, nil, 400, "BAD_REQUEST"},
		{"user: truncated", "POST", "/api/users", `{"name":"a","email":"b@example.com"`, nil, 400, "BAD_REQUEST"},
		{"user: key too long", "POST", "/api/users", `{"name":"a","email":"key@example.com"}`, []string{"Idempotency-Key", strings.Repeat("k", 129)}, 400, "BAD_REQUEST"},
		{"user: trailing garbage", "POST", "/api/users", `{"name":"a","email":"b@example.com"}x`, nil, 400, "BAD_REQUEST"},
		{"user: name is a number", "POST", "/api/users", `{"name":1,"email":"b@example.com"}`, nil, 400, "BAD_REQUEST"},
		{"user: email missing", "POST", "/api/users", `{"name":"a"}`, nil, 400, "BAD_REQUEST"},
		{"user: email null", "POST", "/api/users", `{"name":"a","email":null}`, nil, 400, "BAD_REQUEST"},
		{"user: email invalid", "POST", "/api/users", `{"name":"a","email":"not-an-email"}`, nil, 400, "BAD_REQUEST"},
		{"user: blank name", "POST", "/api/users", `{"name":"  ","email":"b@example.com"}`, nil, 400, "BAD_REQUEST"},
		{"user: NUL in name", "POST", "/api/users", `{"name":"a\u0000b","email":"nul@example.com"}`, nil, 400, "BAD_REQUEST"},
		{"user: newline in name", "POST", "/api/users", `{"name":"a\nb","email":"nl@example.com"}`, nil, 400, "BAD_REQUEST"},
		{"user: email taken", "POST", "/api/users", `{"name":"x","email":"KIM@example.com"}`, nil, 409, "EMAIL_TAKEN"},
		{"user: 70 KiB", "POST", "/api/users", big, nil, 413, "BODY_TOO_LARGE"},

		// POST /api/users/token
		{"token: userId string", "POST", "/api/users/token", `{"userId":"1","concertId":1}`, key, 400, "BAD_REQUEST"},
		{"token: userId fraction", "POST", "/api/users/token", `{"userId":1.5,"concertId":1}`, key, 400, "BAD_REQUEST"},
		{"token: userId exponent", "POST", "/api/users/token", `{"userId":1e0,"concertId":1}`, key, 400, "BAD_REQUEST"},
		{"token: userId zero", "POST", "/api/users/token", `{"userId":0,"concertId":1}`, key, 400, "BAD_REQUEST"},
		{"token: userId huge", "POST", "/api/users/token", `{"userId":99999999999999999999,"concertId":1}`, key, 400, "BAD_REQUEST"},
		{"token: concertId missing", "POST", "/api/users/token", `{"userId":1}`, key, 400, "BAD_REQUEST"},
		{"token: unknown user", "POST", "/api/users/token", `{"concertId":1}`, bearer(h.e.UserKey(999)), 404, "USER_NOT_FOUND"},
		{"token: unknown concert", "POST", "/api/users/token", `{"concertId":999}`, key, 404, "CONCERT_NOT_FOUND"},
		// Credentials (API.md "Identity"): a bare userId no longer enters.
		{"token: bare userId", "POST", "/api/users/token", `{"userId":1,"concertId":1}`, nil, 401, "TOKEN_MISSING"},
		{"token: bare Bearer", "POST", "/api/users/token", `{"concertId":1}`, []string{"Authorization", "Bearer "}, 401, "TOKEN_MISSING"},
		{"token: key as Basic", "POST", "/api/users/token", `{"concertId":1}`, []string{"Authorization", "Basic " + userKey}, 401, "TOKEN_INVALID"},
		{"token: key in the body only", "POST", "/api/users/token", `{"userToken":"` + userKey + `","concertId":1}`, nil, 401, "TOKEN_MISSING"},
		{"token: altered key", "POST", "/api/users/token", `{"concertId":1}`, bearer(userKey[:len(userKey)-2] + flip(userKey[len(userKey)-2:])), 401, "TOKEN_INVALID"},
		{"token: truncated key", "POST", "/api/users/token", `{"concertId":1}`, bearer(userKey[:len(userKey)-1]), 401, "TOKEN_INVALID"},
		{"token: key without its mac", "POST", "/api/users/token", `{"concertId":1}`, bearer(strings.Join(keyParts[:3], ".")), 401, "TOKEN_INVALID"},
		{"token: key of a later generation", "POST", "/api/users/token", `{"concertId":1}`, bearer(keyParts[0] + "." + keyParts[1] + ".2." + keyParts[3]), 401, "TOKEN_INVALID"},
		{"token: key of another id", "POST", "/api/users/token", `{"concertId":1}`, bearer(keyParts[0] + ".2." + keyParts[2] + "." + keyParts[3]), 401, "TOKEN_INVALID"},
		{"token: another user's userId", "POST", "/api/users/token", `{"userId":` + itoa(f.userID+1) + `,"concertId":1}`, key, 401, "TOKEN_INVALID"},
		{"token: a user token instead of a key", "POST", "/api/users/token", `{"concertId":1}`, auth, 401, "TOKEN_INVALID"},
		{"token: garbage credential", "POST", "/api/users/token", `{"concertId":1}`, bearer("eyJhbGciOiJub25lIn0.e30."), 401, "TOKEN_INVALID"},
		{"key: no credential", "POST", "/api/users/key", "", nil, 401, "TOKEN_MISSING"},
		{"key: a user token", "POST", "/api/users/key", "", auth, 401, "TOKEN_INVALID"},
		{"key: altered key", "POST", "/api/users/key", "", bearer(userKey[:len(userKey)-2] + flip(userKey[len(userKey)-2:])), 401, "TOKEN_INVALID"},
		{"charge: altered key", "POST", "/api/users/balance/charge", `{"amount":1}`, bearer(userKey[:len(userKey)-2] + flip(userKey[len(userKey)-2:])), 401, "TOKEN_INVALID"},
		{"balance: garbage credential", "GET", "/api/users/balance", "", bearer("uk1.1.1.x"), 401, "TOKEN_INVALID"},

		// GET /api/queue/status
		{"status: no token", "GET", "/api/queue/status", "", nil, 401, "TOKEN_MISSING"},
		{"status: bare Bearer", "GET", "/api/queue/status", "", []string{"Authorization", "Bearer"}, 401, "TOKEN_MISSING"},
		{"status: garbage", "GET", "/api/queue/status", "", bearer("garbage"), 401, "TOKEN_INVALID"},
		{"status: forged", "GET", "/api/queue/status", "", bearer(forged), 401, "TOKEN_INVALID"},
		{"status: other key", "GET", "/api/queue/status", "", bearer(otherKey), 401, "TOKEN_INVALID"},
		{"status: basic scheme", "GET", "/api/queue/status", "", []string{"Authorization", "Basic " + waiting}, 401, "TOKEN_INVALID"},
		{"status: very long", "GET", "/api/queue/status", "", bearer(strings.Repeat("v1.", 1000)), 401, "TOKEN_INVALID"},
		{"status: legacy body garbage", "GET", "/api/queue/status", `{"userToken":"nope"}`, nil, 401, "TOKEN_INVALID"},
		// The legacy body token (API.md "Conventions"), read when Authorization is
		// absent: a userToken that is there but not a string is malformed input; one
		// that is absent or null, or a body that is not JSON at all, is no token.
		{"status: legacy body number", "GET", "/api/queue/status", `{"userToken":5}`, nil, 400, "BAD_REQUEST"},
		{"status: legacy body object", "GET", "/api/queue/status", `{"userToken":{"t":"v1.x"}}`, nil, 400, "BAD_REQUEST"},
		{"status: legacy body array", "GET", "/api/queue/status", `{"userToken":["` + waiting + `"]}`, nil, 400, "BAD_REQUEST"},
		{"status: legacy body true", "GET", "/api/queue/status", `{"userToken":true}`, nil, 400, "BAD_REQUEST"},
		{"status: legacy body null", "GET", "/api/queue/status", `{"userToken":null}`, nil, 401, "TOKEN_MISSING"},
		{"status: legacy body without userToken", "GET", "/api/queue/status", `{"concertId":1}`, nil, 401, "TOKEN_MISSING"},
		{"status: legacy body truncated", "GET", "/api/queue/status", `{"userToken":5`, nil, 401, "TOKEN_MISSING"},
		{"status: legacy body not JSON", "GET", "/api/queue/status", `userToken=5`, nil, 401, "TOKEN_MISSING"},
		{"status: legacy body an array", "GET", "/api/queue/status", `[{"userToken":"` + waiting + `"}]`, nil, 401, "TOKEN_MISSING"},
		{"hold: legacy body number", "POST", "/api/reservations", `{"userToken":5,"concertScheduleId":` + sid + `,"seatNumber":1}`, nil, 400, "BAD_REQUEST"},
		{"cancel: legacy body number", "DELETE", "/api/reservations/1", `{"userToken":5}`, nil, 400, "BAD_REQUEST"},
		{"pay: legacy body number", "POST", "/api/payments", `{"userToken":5,"reservationId":1,"paymentAmount":50000}`, nil, 400, "BAD_REQUEST"},
		{"charge: legacy body number", "POST", "/api/users/balance/charge", `{"userToken":5,"amount":100}`, nil, 400, "BAD_REQUEST"},
		{"balance: legacy body object", "GET", "/api/users/balance", `{"userToken":{}}`, nil, 400, "BAD_REQUEST"},
		// Entering takes no body token, so there userToken is an unknown field.
		{"token: legacy body number", "POST", "/api/users/token", `{"userToken":5,"concertId":1}`, nil, 401, "TOKEN_MISSING"},

		// GET /api/concerts/schedules
		{"schedules: concertId word", "GET", "/api/concerts/schedules?concertId=abc", "", nil, 400, "BAD_REQUEST"},
		{"schedules: concertId zero", "GET", "/api/concerts/schedules?concertId=0", "", nil, 400, "BAD_REQUEST"},
		{"schedules: concertId negative", "GET", "/api/concerts/schedules?concertId=-1", "", nil, 400, "BAD_REQUEST"},
		{"schedules: concertId empty", "GET", "/api/concerts/schedules?concertId=", "", nil, 400, "BAD_REQUEST"},

		// GET /api/concerts/schedules/{id}/seats (and badPathIDs below)
		{"seats: no token", "GET", "/api/concerts/schedules/" + sid + "/seats", "", nil, 401, "TOKEN_MISSING"},
		{"seats: forged", "GET", "/api/concerts/schedules/" + sid + "/seats", "", bearer(forged), 401, "TOKEN_INVALID"},
		// The seat map checks the token before the schedule (TestSeatMapOrderHTTP
		// has these with an ACTIVE token).
		{"seats: unknown schedule", "GET", "/api/concerts/schedules/999/seats", "", auth, 403, "NOT_ADMITTED"},
		{"seats: other concert", "GET", "/api/concerts/schedules/" + itoa(otherSchedules[0]) + "/seats", "", auth, 403, "NOT_ADMITTED"},
		{"seats: not admitted", "GET", "/api/concerts/schedules/" + sid + "/seats", "", auth, 403, "NOT_ADMITTED"},

		// POST /api/reservations
		{"hold: no token", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":1}`, nil, 401, "TOKEN_MISSING"},
		{"hold: forged", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":1}`, bearer(forged), 401, "TOKEN_INVALID"},
		{"hold: forged legacy", "POST", "/api/reservations", `{"userToken":"` + forged + `","concertScheduleId":` + sid + `,"seatNumber":1}`, nil, 401, "TOKEN_INVALID"},
		{"hold: seat string", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":"3"}`, auth, 400, "BAD_REQUEST"},
		{"hold: seat fraction", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":1.5}`, auth, 400, "BAD_REQUEST"},
		{"hold: seat null", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":null}`, auth, 400, "BAD_REQUEST"},
		{"hold: seat missing", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `}`, auth, 400, "BAD_REQUEST"},
		{"hold: seat bool", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":true}`, auth, 400, "BAD_REQUEST"},
		{"hold: seat zero", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":0}`, auth, 400, "INVALID_SEAT"},
		{"hold: seat negative", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":-1}`, auth, 400, "INVALID_SEAT"},
		{"hold: seat past the schedule", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":51}`, auth, 400, "INVALID_SEAT"},
		{"hold: seat overflow", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":99999999999999999999}`, auth, 400, "INVALID_SEAT"},
		{"hold: schedule missing", "POST", "/api/reservations", `{"seatNumber":1}`, auth, 400, "BAD_REQUEST"},
		{"hold: schedule zero", "POST", "/api/reservations", `{"concertScheduleId":0,"seatNumber":1}`, auth, 400, "BAD_REQUEST"},
		{"hold: schedule object", "POST", "/api/reservations", `{"concertScheduleId":{},"seatNumber":1}`, auth, 400, "BAD_REQUEST"},
		{"hold: unknown schedule", "POST", "/api/reservations", `{"concertScheduleId":999,"seatNumber":1}`, auth, 404, "SCHEDULE_NOT_FOUND"},
		{"hold: other concert", "POST", "/api/reservations", `{"concertScheduleId":` + itoa(otherSchedules[0]) + `,"seatNumber":1}`, auth, 403, "WRONG_CONCERT"},
		{"hold: not admitted", "POST", "/api/reservations", `{"concertScheduleId":` + sid + `,"seatNumber":1}`, auth, 403, "NOT_ADMITTED"},
		{"hold: not admitted, legacy token", "POST", "/api/reservations", `{"userToken":"` + waiting + `","concertScheduleId":` + sid + `,"seatNumber":1}`, nil, 403, "NOT_ADMITTED"},
		{"hold: array body", "POST", "/api/reservations", `[1,2]`, auth, 400, "BAD_REQUEST"},
		{"hold: empty body", "POST", "/api/reservations", ``, auth, 400, "BAD_REQUEST"},
		{"hold: 70 KiB", "POST", "/api/reservations", big, auth, 413, "BODY_TOO_LARGE"},

		// GET and DELETE /api/reservations/{id} (and badPathIDs below)
		{"reservation: no token", "GET", "/api/reservations/1", "", nil, 401, "TOKEN_MISSING"},
		{"reservation: unknown", "GET", "/api/reservations/999", "", auth, 404, "RESERVATION_NOT_FOUND"},
		{"cancel: no token", "DELETE", "/api/reservations/1", "", nil, 401, "TOKEN_MISSING"},
		{"cancel: forged", "DELETE", "/api/reservations/1", "", bearer(forged), 401, "TOKEN_INVALID"},
		{"cancel: unknown", "DELETE", "/api/reservations/999", "", auth, 404, "RESERVATION_NOT_FOUND"},

		// POST /api/users/balance/charge
		{"charge: no token", "POST", "/api/users/balance/charge", `{"amount":100}`, nil, 401, "TOKEN_MISSING"},
		{"charge: forged", "POST", "/api/users/balance/charge", `{"amount":100}`, bearer(forged), 401, "TOKEN_INVALID"},
		{"charge: amount string", "POST", "/api/users/balance/charge", `{"amount":"100"}`, auth, 400, "BAD_REQUEST"},
		{"charge: amount fraction", "POST", "/api/users/balance/charge", `{"amount":100.5}`, auth, 400, "BAD_REQUEST"},
		{"charge: amount null", "POST", "/api/users/balance/charge", `{"amount":null}`, auth, 400, "BAD_REQUEST"},
		{"charge: amount missing", "POST", "/api/users/balance/charge", `{}`, auth, 400, "BAD_REQUEST"},
		{"charge: amount zero", "POST", "/api/users/balance/charge", `{"amount":0}`, auth, 400, "INVALID_AMOUNT"},
		{"charge: amount negative", "POST", "/api/users/balance/charge", `{"amount":-5}`, auth, 400, "INVALID_AMOUNT"},
		{"charge: amount too big", "POST", "/api/users/balance/charge", `{"amount":10000001}`, auth, 400, "INVALID_AMOUNT"},
		{"charge: amount overflow", "POST", "/api/users/balance/charge", `{"amount":99999999999999999999}`, auth, 400, "INVALID_AMOUNT"},
		{"charge: key too long", "POST", "/api/users/balance/charge", `{"amount":100}`, withAuth("Idempotency-Key", strings.Repeat("k", 129)), 400, "BAD_REQUEST"},
		{"charge: key not ASCII", "POST", "/api/users/balance/charge", `{"amount":100}`, withAuth("Idempotency-Key", "clé"), 400, "BAD_REQUEST"},
		{"charge: 70 KiB", "POST", "/api/users/balance/charge", big, auth, 413, "BODY_TOO_LARGE"},

		// GET /api/users/balance
		{"balance: no token", "GET", "/api/users/balance", "", nil, 401, "TOKEN_MISSING"},
		{"balance: forged", "GET", "/api/users/balance", "", bearer(forged), 401, "TOKEN_INVALID"},
		{"balance: limit zero", "GET", "/api/users/balance?limit=0", "", auth, 400, "BAD_REQUEST"},
		{"balance: limit 201", "GET", "/api/users/balance?limit=201", "", auth, 400, "BAD_REQUEST"},
		{"balance: limit word", "GET", "/api/users/balance?limit=ten", "", auth, 400, "BAD_REQUEST"},
		{"balance: limit empty", "GET", "/api/users/balance?limit=", "", auth, 400, "BAD_REQUEST"},

		// POST /api/payments
		{"pay: no token", "POST", "/api/payments", `{"reservationId":1,"paymentAmount":50000}`, nil, 401, "TOKEN_MISSING"},
		{"pay: forged", "POST", "/api/payments", `{"reservationId":1,"paymentAmount":50000}`, bearer(forged), 401, "TOKEN_INVALID"},
		{"pay: amount string", "POST", "/api/payments", `{"reservationId":1,"paymentAmount":"50000"}`, auth, 400, "BAD_REQUEST"},
		{"pay: amount fraction", "POST", "/api/payments", `{"reservationId":1,"paymentAmount":0.5}`, auth, 400, "BAD_REQUEST"},
		{"pay: amount missing", "POST", "/api/payments", `{"reservationId":1}`, auth, 400, "BAD_REQUEST"},
		{"pay: id missing", "POST", "/api/payments", `{"paymentAmount":50000}`, auth, 400, "BAD_REQUEST"},
		{"pay: id zero", "POST", "/api/payments", `{"reservationId":0,"paymentAmount":50000}`, auth, 400, "BAD_REQUEST"},
		{"pay: amount zero", "POST", "/api/payments", `{"reservationId":1,"paymentAmount":0}`, auth, 400, "AMOUNT_MISMATCH"},
		{"pay: key too long", "POST", "/api/payments", `{"reservationId":1,"paymentAmount":1}`, withAuth("Idempotency-Key", strings.Repeat("k", 129)), 400, "BAD_REQUEST"},
		{"pay: 70 KiB", "POST", "/api/payments", big, auth, 413, "BODY_TOO_LARGE"},

		// Operators
		{"create concert: no key", "POST", "/api/admin/concerts", concertBody, nil, 403, "ADMIN_ONLY"},
		{"create concert: wrong key", "POST", "/api/admin/concerts", concertBody, []string{"X-Admin-Key", "admin-secreT"}, 403, "ADMIN_ONLY"},
		{"create concert: key prefix", "POST", "/api/admin/concerts", concertBody, []string{"X-Admin-Key", "admin"}, 403, "ADMIN_ONLY"},
		{"create concert: user token", "POST", "/api/admin/concerts", concertBody, auth, 403, "ADMIN_ONLY"},
		{"create concert: empty object", "POST", "/api/admin/concerts", `{}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: title number", "POST", "/api/admin/concerts", `{"title":5,"schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: NUL in title", "POST", "/api/admin/concerts", `{"title":"t\u0000","schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: NUL in description", "POST", "/api/admin/concerts", `{"title":"t","description":"\u0000","schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: no schedules", "POST", "/api/admin/concerts", `{"title":"t","schedules":[]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: null schedule", "POST", "/api/admin/concerts", `{"title":"t","schedules":[null]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: schedules object", "POST", "/api/admin/concerts", `{"title":"t","schedules":{}}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: seatCount too big", "POST", "/api/admin/concerts", `{"title":"t","schedules":[{"concertDate":"2026-12-24","seatCount":100001,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: seatCount string", "POST", "/api/admin/concerts", `{"title":"t","schedules":[{"concertDate":"2026-12-24","seatCount":"5","price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: price zero", "POST", "/api/admin/concerts", `{"title":"t","schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":0}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: bad date", "POST", "/api/admin/concerts", `{"title":"t","schedules":[{"concertDate":"2026-13-01","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: year 0", "POST", "/api/admin/concerts", `{"title":"t","schedules":[{"concertDate":"0000-12-24","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: before 2000", "POST", "/api/admin/concerts", `{"title":"t","schedules":[{"concertDate":"1999-12-31","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: year 0 in a layout", "POST", "/api/admin/concerts", `{"title":"t","schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":1},{"concertDate":"0000-01-01","sections":[{"name":"A","price":1,"rows":1,"seatsPerRow":1}]}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: five-digit year", "POST", "/api/admin/concerts", `{"title":"t","schedules":[{"concertDate":"10000-01-01","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: bad saleOpensAt", "POST", "/api/admin/concerts", `{"title":"t","saleOpensAt":"tomorrow","schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: admitPerSecond zero", "POST", "/api/admin/concerts", `{"title":"t","queue":{"admitPerSecond":0},"schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: queue array", "POST", "/api/admin/concerts", `{"title":"t","queue":[],"schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":1}]}`, admin(), 400, "BAD_REQUEST"},
		{"create concert: 70 KiB", "POST", "/api/admin/concerts", big, admin(), 413, "BODY_TOO_LARGE"},
		{"patch queue: no key", "PATCH", "/api/admin/concerts/" + itoa(f.concertID) + "/queue", `{"paused":true}`, nil, 403, "ADMIN_ONLY"},
		{"patch queue: id word", "PATCH", "/api/admin/concerts/abc/queue", `{"paused":true}`, admin(), 400, "BAD_REQUEST"},
		{"patch queue: unknown concert", "PATCH", "/api/admin/concerts/999/queue", `{"paused":true}`, admin(), 404, "CONCERT_NOT_FOUND"},
		{"patch queue: paused string", "PATCH", "/api/admin/concerts/" + itoa(f.concertID) + "/queue", `{"paused":"yes"}`, admin(), 400, "BAD_REQUEST"},
		{"patch queue: maxActive zero", "PATCH", "/api/admin/concerts/" + itoa(f.concertID) + "/queue", `{"maxActive":0}`, admin(), 400, "BAD_REQUEST"},
		{"patch queue: admitPerSecond too big", "PATCH", "/api/admin/concerts/" + itoa(f.concertID) + "/queue", `{"admitPerSecond":100000000}`, admin(), 400, "BAD_REQUEST"},
		{"patch queue: not an object", "PATCH", "/api/admin/concerts/" + itoa(f.concertID) + "/queue", `true`, admin(), 400, "BAD_REQUEST"},
		{"stats: no key", "GET", "/api/admin/concerts/" + itoa(f.concertID) + "/stats", "", nil, 403, "ADMIN_ONLY"},
		{"stats: id zero", "GET", "/api/admin/concerts/0/stats", "", admin(), 400, "BAD_REQUEST"},
		{"stats: unknown concert", "GET", "/api/admin/concerts/999/stats", "", admin(), 404, "CONCERT_NOT_FOUND"},

		// Routing
		{"unknown route", "GET", "/api/nope", "", nil, 404, "NOT_FOUND"},
		{"unknown root", "GET", "/nope", "", nil, 404, "NOT_FOUND"}, // "/" is the buyer page
		{"trailing slash", "GET", "/api/concerts/", "", nil, 404, "NOT_FOUND"},
		{"wrong method on users", "PUT", "/api/users", `{}`, nil, 405, "METHOD_NOT_ALLOWED"},
		{"wrong method on payments", "GET", "/api/payments", "", nil, 405, "METHOD_NOT_ALLOWED"},
		{"wrong method on reservation", "PATCH", "/api/reservations/1", "", auth, 405, "METHOD_NOT_ALLOWED"},
		{"options", "OPTIONS", "/api/queue/status", "", nil, 405, "METHOD_NOT_ALLOWED"},
	}
	cases = append(cases, badPathIDs("seats", "GET", "/api/concerts/schedules/", "/seats", auth)...)
	cases = append(cases, badPathIDs("reservation", "GET", "/api/reservations/", "", auth)...)
	cases = append(cases, badPathIDs("cancel", "DELETE", "/api/reservations/", "", auth)...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.request(t, c.method, c.path, c.body, c.headers...)
			if r.status >= 500 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.headers["content-type"]; ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			m := r.json(t)
			if r.status != c.status || m["code"] != c.code {
				t.Fatalf("got %d %v, want %d %s", r.status, m, c.status, c.code)
			}
			if msg, _ := m["message"].(string); msg == "" {
				t.Fatalf("no message: %v", m)
			}
		})
	}

	// Nothing above changed any state.
	m := h.mustStatus(200, "GET", "/api/users/balance", "", auth...)
	if number(t, m, "currentBalance") != 0 || len(m["balanceHistory"].([]any)) != 0 {
		t.Fatalf("balance changed: %v", m)
	}
	m = h.mustStatus(200, "GET", "/api/admin/concerts/"+itoa(f.concertID)+"/stats", "", admin()...)
	if number(t, m, "held") != 0 || number(t, m, "sold") != 0 || number(t, m, "waiting") != 1 {
		t.Fatalf("stats changed: %v", m)
	}
	m = h.mustStatus(200, "PATCH", "/api/admin/concerts/"+itoa(f.concertID)+"/queue", `{}`, admin()...)
	if number(t, m, "admitPerSecond") != 100 || number(t, m, "maxActive") != 1000 || m["paused"] != false {
		t.Fatalf("queue settings changed: %v", m)
	}
	m = h.mustStatus(200, "GET", "/api/concerts", "")
	if n := len(m["concerts"].([]any)); n != 2 {
		t.Fatalf("%d concerts, want 2 (fixture and %d)", n, otherConcert)
	}
	// No user was created: the next one gets the id right after the fixture's.
	if id := h.user("next"); id != f.userID+1 {
		t.Fatalf("next user id %d, want %d", id, f.userID+1)
	}
}

// TestHostileInput sends malformed, oversized, mistyped and injection-shaped
// requests to every endpoint, byte for byte as written, with real credentials of
// an admitted buyer holding a seat, and holds the server to the contract: never a
// 5xx, and no state changes (stats, balance, the hold, the catalog).
func TestHostileInput(t *testing.T) {
	h := newHarness(t)
	h.runEngine()
	concertID, schedules := h.concert(`{"title":"Hostile","queue":{"admitPerSecond":100,"maxActive":1000},
		"schedules":[{"concertDate":"2026-12-24","seatCount":10,"price":1000}]}`)
	b := struct{ token string }{h.enter(h.user("kim"), concertID)}
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":5000}`, bearer(b.token)...)
	h.waitActive(b.token)
	cid, sid := itoa(concertID), itoa(schedules[0])
	m := h.mustStatus(201, "POST", "/api/reservations", `{"concertScheduleId":`+sid+`,"seatNumber":1}`, bearer(b.token)...)
	rid := itoa(number(t, m, "reservationId"))
	snapshot := func() string {
		st := h.do("GET", "/api/admin/concerts/"+cid+"/stats", "", admin()...)
		bal := h.do("GET", "/api/users/balance", "", bearer(b.token)...)
		r := h.do("GET", "/api/reservations/"+rid, "", bearer(b.token)...)
		c := h.do("GET", "/api/concerts", "")
		return fmt.Sprintf("stats %s | balance %s | reservation %s | concerts %s", st.body, bal.body, r.body, c.body)
	}
	before := snapshot()

	auth := "Bearer " + b.token
	type endpoint struct{ method, path string }
	// DELETE of the real reservation is left out: with real credentials it is a
	// well-formed cancel whatever body comes with it. Hostile DELETE paths are below.
	endpoints := []endpoint{
		{"POST", "/api/users"}, {"POST", "/api/users/token"}, {"GET", "/api/queue/status"},
		{"GET", "/api/concerts"}, {"GET", "/api/concerts/schedules"}, {"GET", "/api/concerts/schedules/" + sid + "/seats"},
		{"POST", "/api/reservations"}, {"GET", "/api/reservations/" + rid},
		{"POST", "/api/users/balance/charge"}, {"GET", "/api/users/balance"}, {"POST", "/api/payments"},
		{"POST", "/api/admin/concerts"}, {"PATCH", "/api/admin/concerts/" + cid + "/queue"},
		{"GET", "/api/admin/concerts/" + cid + "/stats"},
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	bodies := []string{
		`{`, `}`, `[]`, `null`, `"x"`, `0`, `{"a":`, deep, strings.Repeat("x", 70<<10),
		`{"amount":"100"}`, `{"amount":-1}`, `{"amount":0}`, `{"amount":1.5}`, `{"amount":1e309}`, `{"amount":99999999999999999999}`,
		`{"amount":10000001}`, `{"amount":1,"amount":-1}`, `{"amount":null}`, `{"amount":[1]}`, `{"amount":{"$gt":0}}`,
		`{"reservationId":` + rid + `,"paymentAmount":"1000"}`, `{"reservationId":"` + rid + `","paymentAmount":1000}`,
		`{"reservationId":` + rid + `,"paymentAmount":999}`, `{"reservationId":-` + rid + `,"paymentAmount":1000}`,
		`{"concertScheduleId":` + sid + `,"seatNumber":"1; DROP TABLE sales;--"}`,
		`{"concertScheduleId":"redis.call('FLUSHALL')","seatNumber":2}`,
		`{"concertScheduleId":` + sid + `,"seatNumber":0}`, `{"concertScheduleId":` + sid + `,"seatNumber":11}`,
		`{"concertScheduleId":` + sid + `,"seatNumber":4294967298}`,
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
		status, body, err := h.raw(req)
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
		"/api/reservations/../admin/concerts", "/api/reservations/%2e%2e/%2e%2e/admin/concerts/" + cid + "/stats",
		"/api/reservations/%00", "/api/reservations/" + rid + "%00", "/api/reservations/" + strings.Repeat("9", 5000),
		"/api/reservations/1'%20OR%20'1'='1", "/api/reservations/redis.call('DEL','x')", "/api/reservations/-1",
		"/api/reservations/0x10", "/api/reservations/1e3", "/api/reservations/%F0%9F%8E%B5", "/api/reservations/\xf0\x9f\x8e\xb5",
		"/api/concerts/schedules/" + sid + "%2F..%2F/seats", "/api/concerts/schedules/99999999999999999999/seats",
		"/api/admin/concerts/0/stats", "/api/admin/concerts/-" + cid + "/stats", "/api/admin/concerts/1;DROP%20TABLE%20users/stats",
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
	h.mustStatus(200, "GET", "/api/queue/status", "", bearer(b.token)...)
}

// raw sends bytes as they are, for requests a client library refuses to write,
// and reads the answer's status and the start of its body.
func (h *harness) raw(req []byte) (int, string, error) {
	conn, err := h.dial()
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(req); err != nil {
		return 0, "", err
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		return 0, "", err
	}
	return resp.StatusCode(), string(resp.Body()[:min(len(resp.Body()), 300)]), nil
}

// flip changes a token's last characters to other valid base64url characters.
func flip(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

// TestServerBodyLimit covers bodies past the fasthttp server's own limit, which
// never reach a route: its ErrorHandler must still answer the contract's JSON 413.
// The client announces the size and sends no body, as the server refuses on
// Content-Length alone.
func TestServerBodyLimit(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		name, raw string
		status    int
		code      string
	}{
		{"too large", "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n", 413, "BODY_TOO_LARGE"},
		{"garbage", "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400, "BAD_REQUEST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := h.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(c.raw)); err != nil {
				t.Fatal(err)
			}
			var resp fasthttp.Response
			if err := resp.Read(bufio.NewReader(conn)); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(resp.Body(), &m); err != nil {
				t.Fatalf("%v: %q", err, resp.Body())
			}
			if resp.StatusCode() != c.status || m["code"] != c.code || string(resp.Header.ContentType()) != "application/json" {
				t.Fatalf("got %d %v %q", resp.StatusCode(), m, resp.Header.ContentType())
			}
		})
	}
}

// TestReadTimeoutAnswers: a connection that sends nothing before the read
// timeout is closed without an answer (it is a client's spare connection, and
// an answer there would be taken as unsolicited, or as the reply to the next
// request), while one that sent part of a request and stalled is told 400. TCP,
// since the timeout this is about is a socket deadline.
func TestReadTimeoutAnswers(t *testing.T) {
	h := newHarness(t)
	hs := h.srv.HTTPServer()
	hs.ReadTimeout, hs.IdleTimeout = 200*time.Millisecond, 200*time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, hs, ln)
	for _, c := range []struct {
		name, send, wantPrefix string
	}{
		{"nothing sent", "", ""},
		{"half a request", "GET /healthz HTTP/1.1\r\nHost: x\r\n", "HTTP/1.1 400 "},
		{"a request, then nothing", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 "},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(c.send)); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(conn) // until the server closes
			if err != nil {
				t.Fatalf("%v after %q", err, got)
			}
			if !strings.HasPrefix(string(got), c.wantPrefix) || (c.wantPrefix == "" && len(got) > 0) {
				t.Fatalf("got %q, want %q and then the close", got, c.wantPrefix)
			}
			if n := strings.Count(string(got), "HTTP/1.1 "); n > 1 {
				t.Fatalf("%d answers on one connection: %q", n, got)
			}
		})
	}
}
