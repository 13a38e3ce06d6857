package api

import (
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/pow"
)

// enterWith posts an entry whose body is the user, the concert and extra fields
// (`"proof":{...}`, `"presaleCode":"..."`), each test's one way in.
func (h *harness) enterWith(userID, concertID int64, extra string) response {
	h.t.Helper()
	body := `{"userId":` + itoa(userID) + `,"concertId":` + itoa(concertID)
	if extra != "" {
		body += "," + extra
	}
	return h.do("POST", "/api/users/token", body+"}", bearer(h.key(userID))...)
}

func wantCode(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.json(t)["code"] != code {
		t.Fatalf("status %d %s, want %d %s", r.status, r.body, status, code)
	}
}

func TestProofOfWorkHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, bits := range []string{"27", "-1", "1.5", `"8"`} {
		r := h.do("POST", "/api/admin/concerts", `{"title":"x","queue":{"proofOfWorkBits":`+bits+`},
			"schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":100}]}`, admin()...)
		wantCode(t, r, 400, "BAD_REQUEST")
	}
	c, _ := h.concert(`{"title":"x","queue":{"proofOfWorkBits":26},"schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":100}]}`)
	m := h.mustStatus(200, "GET", "/api/queue/challenge?concertId="+itoa(c), "")
	if number(t, m, "bits") != 26 {
		t.Fatalf("challenge of a 26-bit concert: %v", m)
	}
	wantCode(t, h.do("PATCH", "/api/admin/concerts/"+itoa(c)+"/queue", `{"proofOfWorkBits":27}`, admin()...), 400, "BAD_REQUEST")
	m = h.mustStatus(200, "PATCH", "/api/admin/concerts/"+itoa(c)+"/queue", `{"proofOfWorkBits":8}`, admin()...)
	if number(t, m, "proofOfWorkBits") != 8 || number(t, m, "admitPerSecond") != 100 {
		t.Fatalf("patched settings: %v", m)
	}

	wantCode(t, h.do("GET", "/api/queue/challenge", ""), 400, "BAD_REQUEST")
	wantCode(t, h.do("GET", "/api/queue/challenge?concertId=x", ""), 400, "BAD_REQUEST")
	wantCode(t, h.do("GET", "/api/queue/challenge?concertId=999", ""), 404, "CONCERT_NOT_FOUND")
	m = h.mustStatus(200, "GET", "/api/queue/challenge?concertId="+itoa(c), "")
	ch, _ := m["challenge"].(string)
	if ch == "" || number(t, m, "bits") != 8 || m["expiresAt"] != t0.Add(5*time.Minute).Format(time.RFC3339) {
		t.Fatalf("challenge: %v", m)
	}

	u1, u2 := h.user("ana"), h.user("bo")
	wantCode(t, h.enterWith(u1, c, ""), 403, "PROOF_REQUIRED")
	for _, proof := range []string{
		`"proof":"abc"`,
		`"proof":{"challenge":"` + ch + `"}`,
		`"proof":{"nonce":"1"}`,
		`"proof":{"challenge":"` + ch + `","nonce":""}`,
		`"proof":{"challenge":"` + ch + `","nonce":"` + strings.Repeat("a", 65) + `"}`,
		`"proof":{"challenge":"` + ch + `","nonce":"\u00e9"}`,
		`"proof":{"challenge":"` + ch + `","nonce":7}`,
	} {
		wantCode(t, h.enterWith(u1, c, proof), 400, "BAD_REQUEST")
	}
	wantCode(t, h.enterWith(u1, c, `"proof":{"challenge":"p1.1.0.1.x.y","nonce":"1"}`), 403, "PROOF_INVALID")

	proof := `"proof":{"challenge":"` + ch + `","nonce":"` + pow.Solve(ch, 8) + `"}`
	if r := h.enterWith(u1, c, proof); r.status != 201 {
		t.Fatalf("solved proof: %d %s", r.status, r.body)
	}
	wantCode(t, h.enterWith(u2, c, proof), 403, "PROOF_INVALID")
	if r := h.enterWith(u1, c, ""); r.status != 200 {
		t.Fatalf("the proven user again, without a proof: %d %s", r.status, r.body)
	}
}

func TestPresaleHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c, _ := h.concert(concertBody)
	path := "/api/admin/concerts/" + itoa(c) + "/presale"
	until := t0.Add(time.Hour).Format(time.RFC3339)
	wantCode(t, h.do("POST", path, `{"count":1,"until":"`+until+`"}`), 403, "ADMIN_ONLY")
	for _, body := range []string{
		`{"until":"` + until + `"}`,
		`{"count":0,"until":"` + until + `"}`,
		`{"count":100001,"until":"` + until + `"}`,
		`{"count":"1","until":"` + until + `"}`,
		`{"count":1}`,
		`{"count":1,"until":"tomorrow"}`,
		`[]`,
	} {
		wantCode(t, h.do("POST", path, body, admin()...), 400, "BAD_REQUEST")
	}
	wantCode(t, h.do("POST", "/api/admin/concerts/999/presale", `{"count":1,"until":"`+until+`"}`, admin()...), 404, "CONCERT_NOT_FOUND")

	m := h.mustStatus(201, "POST", path, `{"count":3,"until":"`+until+`"}`, admin()...)
	list, _ := m["codes"].([]any)
	if len(list) != 3 {
		t.Fatalf("codes: %v", m)
	}
	code := list[0].(string)
	if len(strings.ReplaceAll(code, "-", "")) < 12 {
		t.Fatalf("code %q is short", code)
	}
	u1, u2 := h.user("ana"), h.user("bo")
	wantCode(t, h.enterWith(u1, c, ""), 403, "NOT_INVITED")
	wantCode(t, h.enterWith(u1, c, `"presaleCode":"WRONG-CODE"`), 403, "NOT_INVITED")
	wantCode(t, h.enterWith(u1, c, `"presaleCode":7`), 400, "BAD_REQUEST")
	if r := h.enterWith(u1, c, `"presaleCode":"`+code+`"`); r.status != 201 {
		t.Fatalf("entry with a code: %d %s", r.status, r.body)
	}
	wantCode(t, h.enterWith(u2, c, `"presaleCode":"`+code+`"`), 403, "NOT_INVITED")
	// After the presale the sale is general.
	h.clk.Advance(time.Hour)
	if r := h.enterWith(u2, c, ""); r.status != 201 {
		t.Fatalf("after the presale: %d %s", r.status, r.body)
	}
}

// TestGateErrorsInTable: the gates' codes are 403s, in the one table.
func TestGateErrorsInTable(t *testing.T) {
	t.Parallel()
	for _, c := range []engine.Code{engine.CodeProofRequired, engine.CodeProofInvalid, engine.CodeNotInvited} {
		if statusOf[c] != 403 {
			t.Errorf("%s maps to %d", c, statusOf[c])
		}
	}
}

// TestSeatMapOrderHTTP: a waiting token hears NOT_ADMITTED whatever schedule it
// names; an admitted one hears about the schedule.
func TestSeatMapOrderHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.runEngine()
	f := h.fixture()
	_, other := h.concert(`{"title":"Other","schedules":[{"concertDate":"2026-12-25","seatCount":5,"price":10}]}`)
	h.waitActive(f.token)
	seats := func(id int64) response {
		return h.do("GET", "/api/concerts/schedules/"+itoa(id)+"/seats", "", bearer(f.token)...)
	}
	wantCode(t, seats(999), 404, "SCHEDULE_NOT_FOUND")
	wantCode(t, seats(other[0]), 403, "WRONG_CONCERT")
	if r := seats(f.scheduleID); r.status != 200 {
		t.Fatalf("own schedule: %d %s", r.status, r.body)
	}
}
