package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// exchange is what the fake server saw of one request.
type exchange struct {
	method, path, auth, admin, idem, body string
}

// fake answers every request with status and body, and records what it saw.
func fake(t *testing.T, status int, body string, header ...string) (*httptest.Server, *[]exchange) {
	t.Helper()
	var seen []exchange
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, exchange{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("X-Admin-Key"),
			r.Header.Get("Idempotency-Key"), string(b)})
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

var at = time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC)

func TestEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name               string
		call               func(c *Client) (any, error)
		method, path, auth string
		admin              bool
		body               string // the request body, as JSON; "" for none
		status             int
		answer             string
		want               any
	}{
		{"create user", func(c *Client) (any, error) {
			return c.CreateUser(ctx, CreateUserRequest{Name: "Kim", Email: "kim@example.com", IdempotencyKey: "k1"})
		}, "POST", "/api/users", "", false, `{"name":"Kim","email":"kim@example.com"}`,
			201, `{"userId":7,"userKey":"uk"}`, User{UserID: 7, UserKey: "uk"}},
		{"rotate key", func(c *Client) (any, error) { return c.RotateKey(ctx, "uk") },
			"POST", "/api/users/key", "Bearer uk", false, "", 200, `{"userId":7,"userKey":"uk2"}`, User{UserID: 7, UserKey: "uk2"}},
		{"enter", func(c *Client) (any, error) {
			return c.EnterQueue(ctx, "uk", EnterRequest{ConcertID: 1, UserID: 7, Proof: &Proof{Challenge: "ch", Nonce: "n"}, PresaleCode: "PRE"})
		}, "POST", "/api/users/token", "Bearer uk", false, `{"concertId":1,"userId":7,"proof":{"challenge":"ch","nonce":"n"},"presaleCode":"PRE"}`,
			201, `{"userToken":"tok","status":"WAITING","position":1204,"estimatedWaitSeconds":95,"pollAfterSeconds":5}`,
			QueueStatus{UserToken: "tok", Status: Waiting, Position: 1204, EstimatedWaitSeconds: 95, PollAfterSeconds: 5}},
		{"status", func(c *Client) (any, error) { return c.QueueStatus(ctx, "tok") },
			"GET", "/api/queue/status", "Bearer tok", false, "", 200, `{"concertId":1,"status":"ACTIVE","expiresAt":"2026-11-24T10:15:00Z"}`,
			QueueStatus{ConcertID: 1, Status: Active, ExpiresAt: &at}},
		{"challenge", func(c *Client) (any, error) { return c.Challenge(ctx, 3) },
			"GET", "/api/queue/challenge?concertId=3", "", false, "", 200, `{"challenge":"abc","bits":20,"expiresAt":"2026-11-24T10:15:00Z"}`,
			Challenge{Challenge: "abc", Bits: 20, ExpiresAt: at}},
		{"concerts", func(c *Client) (any, error) { return c.Concerts(ctx) },
			"GET", "/api/concerts", "", false, "", 200, `{"concerts":[{"concertId":1,"title":"T","description":"D","saleOpensAt":"2026-11-24T10:15:00Z"}]}`,
			[]Concert{{ConcertID: 1, Title: "T", Description: "D", SaleOpensAt: "2026-11-24T10:15:00Z"}}},
		{"schedules", func(c *Client) (any, error) { return c.Schedules(ctx, 1) },
			"GET", "/api/concerts/schedules?concertId=1", "", false, "", 200,
			`{"availableSchedules":[{"concertScheduleId":2,"concertId":1,"concertTitle":"T","concertDate":"2026-12-24","totalSeats":50,"availableSeats":12}]}`,
			[]Schedule{{ScheduleID: 2, ConcertID: 1, ConcertTitle: "T", ConcertDate: "2026-12-24", TotalSeats: 50, AvailableSeats: 12}}},
		{"seat map", func(c *Client) (any, error) { return c.SeatMap(ctx, "tok", 2) },
			"GET", "/api/concerts/schedules/2/seats", "Bearer tok", false, "", 200,
			`{"concertScheduleId":2,"availableSeats":[{"seatNumber":1,"status":"available","price":50000,"section":"R","row":12,"seat":7,"label":"R-12-7"}]}`,
			SeatMap{ScheduleID: 2, Seats: []Seat{{SeatNumber: 1, Status: SeatAvailable, Price: 50000, Section: "R", Row: 12, Seat: 7, Label: "R-12-7"}}}},
		{"hold", func(c *Client) (any, error) { return c.Hold(ctx, "tok", HoldRequest{ScheduleID: 2, SeatNumber: 3}) },
			"POST", "/api/reservations", "Bearer tok", false, `{"concertScheduleId":2,"seatNumber":3}`, 201,
			`{"reservationId":123,"status":"PENDING","concertScheduleId":2,"seatNumber":3,"price":50000,"expirationTime":"2026-11-24T10:15:00Z"}`,
			Reservation{ReservationID: 123, Status: Pending, ScheduleID: 2, SeatNumber: 3, Price: 50000, ExpirationTime: &at}},
		{"best", func(c *Client) (any, error) {
			return c.HoldBest(ctx, "tok", BestRequest{ScheduleID: 2, Quantity: 2, Section: "R"})
		}, "POST", "/api/reservations/best", "Bearer tok", false, `{"concertScheduleId":2,"quantity":2,"section":"R"}`, 201,
			`{"reservations":[{"reservationId":1,"status":"PENDING","seatNumber":4},{"reservationId":2,"status":"PENDING","seatNumber":5}]}`,
			[]Reservation{{ReservationID: 1, Status: Pending, SeatNumber: 4}, {ReservationID: 2, Status: Pending, SeatNumber: 5}}},
		{"reservation", func(c *Client) (any, error) { return c.Reservation(ctx, "tok", 123) },
			"GET", "/api/reservations/123", "Bearer tok", false, "", 200, `{"reservationId":123,"status":"PAID"}`,
			Reservation{ReservationID: 123, Status: Paid}},
		{"cancel", func(c *Client) (any, error) { return c.Cancel(ctx, "tok", 123) },
			"DELETE", "/api/reservations/123", "Bearer tok", false, "", 200, `{"reservationId":123,"status":"CANCELLED"}`,
			Reservation{ReservationID: 123, Status: Cancelled}},
		{"charge", func(c *Client) (any, error) {
			return c.Charge(ctx, "uk", ChargeRequest{Amount: 50000, IdempotencyKey: "k1"})
		},
			"POST", "/api/users/balance/charge", "Bearer uk", false, `{"amount":50000}`, 200, `{"status":"SUCCESS","currentBalance":100000}`,
			Charged{Status: "SUCCESS", CurrentBalance: 100000}},
		{"balance", func(c *Client) (any, error) { return c.Balance(ctx, "uk", 1) },
			"GET", "/api/users/balance?limit=1", "Bearer uk", false, "", 200,
			`{"currentBalance":100000,"balanceHistory":[{"transactionDate":"2026-11-24T10:15:00Z","transactionType":"charge","amount":50000}]}`,
			Balance{CurrentBalance: 100000, BalanceHistory: []Transaction{{TransactionDate: at, TransactionType: "charge", Amount: 50000}}}},
		{"pay one", func(c *Client) (any, error) {
			return c.Pay(ctx, "tok", PayRequest{ReservationID: 123, PaymentAmount: 50000, IdempotencyKey: "k1"})
		}, "POST", "/api/payments", "Bearer tok", false, `{"reservationId":123,"paymentAmount":50000}`, 201,
			`{"status":"COMPLETED","paymentId":789,"reservationId":123,"amount":50000,"currentBalance":50000}`,
			Payment{Status: "COMPLETED", PaymentID: 789, ReservationID: 123, Amount: 50000, CurrentBalance: 50000}},
		{"pay several", func(c *Client) (any, error) {
			return c.Pay(ctx, "tok", PayRequest{ReservationIDs: []int64{123, 124}, PaymentAmount: 180000, IdempotencyKey: "k1"})
		}, "POST", "/api/payments", "Bearer tok", false, `{"reservationIds":[123,124],"paymentAmount":180000}`, 201,
			`{"status":"COMPLETED","paymentId":790,"reservationIds":[123,124],"amount":180000,"currentBalance":0}`,
			Payment{Status: "COMPLETED", PaymentID: 790, ReservationIDs: []int64{123, 124}, Amount: 180000}},
		{"create concert", func(c *Client) (any, error) {
			return c.CreateConcert(ctx, NewConcert{Title: "T", SaleOpensAt: &at,
				Queue: &QueueSettings{AdmitPerSecond: 100, MaxActive: 1000, ProofOfWorkBits: 20, MaxTicketsPerUser: 4},
				Schedules: []NewSchedule{{ConcertDate: "2026-12-24", SeatCount: 50, Price: 50000},
					{ConcertDate: "2026-12-25", Sections: []Section{{Name: "VIP", Price: 150000, Rows: 5, SeatsPerRow: 20}}}}})
		}, "POST", "/api/admin/concerts", "", true,
			`{"title":"T","saleOpensAt":"2026-11-24T10:15:00Z","queue":{"admitPerSecond":100,"maxActive":1000,"proofOfWorkBits":20,"maxTicketsPerUser":4},` +
				`"schedules":[{"concertDate":"2026-12-24","seatCount":50,"price":50000},{"concertDate":"2026-12-25","sections":[{"name":"VIP","price":150000,"rows":5,"seatsPerRow":20}]}]}`,
			201, `{"concertId":1,"scheduleIds":[1,2]}`, CreatedConcert{ConcertID: 1, ScheduleIDs: []int64{1, 2}}},
		{"patch queue", func(c *Client) (any, error) {
			paused, bits := true, 20
			return c.PatchQueue(ctx, 1, QueuePatch{Paused: &paused, ProofOfWorkBits: &bits})
		}, "PATCH", "/api/admin/concerts/1/queue", "", true, `{"paused":true,"proofOfWorkBits":20}`, 200,
			`{"admitPerSecond":100,"maxActive":1000,"paused":true,"proofOfWorkBits":20,"closed":false}`,
			QueueSettings{AdmitPerSecond: 100, MaxActive: 1000, Paused: true, ProofOfWorkBits: 20}},
		{"stats", func(c *Client) (any, error) { return c.Stats(ctx, 1) },
			"GET", "/api/admin/concerts/1/stats", "", true, "", 200,
			`{"waiting":120431,"active":1000,"admittedTotal":5000,"held":310,"sold":4500,"seatsTotal":10000}`,
			Stats{Waiting: 120431, Active: 1000, AdmittedTotal: 5000, Held: 310, Sold: 4500, SeatsTotal: 10000}},
		{"presale", func(c *Client) (any, error) { return c.PresaleCodes(ctx, 1, PresaleRequest{Count: 2, Until: at}) },
			"POST", "/api/admin/concerts/1/presale", "", true, `{"count":2,"until":"2026-11-24T10:15:00Z"}`, 201,
			`{"codes":["AAAABBBBCCCC","DDDDEEEEFFFF"]}`, []string{"AAAABBBBCCCC", "DDDDEEEEFFFF"}},
		{"healthz", func(c *Client) (any, error) { return nil, c.Healthz(ctx) }, "GET", "/healthz", "", false, "", 200, `{"status":"ok"}`, nil},
		{"readyz", func(c *Client) (any, error) { return nil, c.Readyz(ctx) }, "GET", "/readyz", "", false, "", 200, `{"status":"ok"}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := fake(t, tc.status, tc.answer)
			c := New(srv.URL, WithAdminKey("admin-key"))
			got, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if len(*seen) != 1 {
				t.Fatalf("%d requests, want 1", len(*seen))
			}
			x := (*seen)[0]
			if x.method != tc.method || x.path != tc.path || x.auth != tc.auth {
				t.Fatalf("sent %s %s auth %q, want %s %s auth %q", x.method, x.path, x.auth, tc.method, tc.path, tc.auth)
			}
			if (x.admin == "admin-key") != tc.admin {
				t.Fatalf("X-Admin-Key %q, admin call %v", x.admin, tc.admin)
			}
			if tc.body == "" && x.body != "" || tc.body != "" && !jsonEqual(x.body, tc.body) {
				t.Fatalf("body %s, want %s", x.body, tc.body)
			}
			if strings.Contains(tc.name, "charge") || strings.Contains(tc.name, "pay") || tc.name == "create user" {
				if x.idem != "k1" {
					t.Fatalf("Idempotency-Key %q, want k1", x.idem)
				}
			}

			// The same call refused: the error carries the answer's code.
			srv2, _ := fake(t, 409, `{"code":"SEAT_TAKEN","message":"taken"}`)
			_, err = tc.call(New(srv2.URL, WithAdminKey("admin-key")))
			var e *Error
			if !errors.As(err, &e) || e.Status != 409 || e.Code != "SEAT_TAKEN" || e.Message != "taken" || !IsCode(err, "SEAT_TAKEN") {
				t.Fatalf("refusal decoded as %#v (%v)", e, err)
			}
		})
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

func TestErrorDecoding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, retryAfter string
		status                 int
		want                   Error
	}{
		{"contract error", `{"code":"TOKEN_EXPIRED","message":"expired"}`, "", 401, Error{Status: 401, Code: "TOKEN_EXPIRED", Message: "expired"}},
		{"rate limited", `{"code":"RATE_LIMITED","message":"slow down"}`, "3", 429, Error{Status: 429, Code: "RATE_LIMITED", Message: "slow down", RetryAfter: 3 * time.Second}},
		{"not JSON", `<html>bad gateway</html>`, "", 502, Error{Status: 502, Code: "502", Message: "<html>bad gateway</html>"}},
		{"JSON without code", `{"error":"x"}`, "", 500, Error{Status: 500, Code: "500", Message: `{"error":"x"}`}},
		{"empty", ``, "soon", 503, Error{Status: 503, Code: "503"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.retryAfter != "" {
				h.Set("Retry-After", tc.retryAfter)
			}
			got := decodeError(tc.status, h, []byte(tc.body))
			if *got != tc.want {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
	if IsCode(errors.New("SEAT_TAKEN"), "SEAT_TAKEN") || StatusOf(nil) != 0 || CodeOf(io.EOF) != "" {
		t.Fatal("a plain error passed for an answer")
	}
}

// TestRetries: 503 and 429 are repeated after Retry-After, with the same
// Idempotency-Key each time, and the answer after them is what the caller gets.
func TestRetries(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		w.Header().Set("Content-Type", "application/json")
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"code":"UNAVAILABLE","message":"redis"}`)
		case 2:
			w.WriteHeader(429)
			_, _ = io.WriteString(w, `{"code":"RATE_LIMITED","message":"slow"}`)
		default:
			_, _ = io.WriteString(w, `{"status":"SUCCESS","currentBalance":5}`)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, WithRetries(5, 10*time.Millisecond))
	got, err := c.Charge(context.Background(), "uk", ChargeRequest{Amount: 5})
	if err != nil || got.CurrentBalance != 5 {
		t.Fatalf("%+v %v", got, err)
	}
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Fatalf("Idempotency-Keys %q: want one key, kept across the attempts", keys)
	}

	// Without WithRetries the first refusal is the answer.
	n.Store(0)
	_, err = New(srv.URL).Charge(context.Background(), "uk", ChargeRequest{Amount: 5})
	if e := (*Error)(nil); !errors.As(err, &e) || e.Status != 503 || e.Code != "UNAVAILABLE" {
		t.Fatalf("got %v, want the 503", err)
	}
	// A bounded client gives up with the last refusal.
	n.Store(0)
	_, err = New(srv.URL, WithRetries(2, time.Millisecond)).Charge(context.Background(), "uk", ChargeRequest{Amount: 5})
	if !IsCode(err, "RATE_LIMITED") {
		t.Fatalf("got %v, want the 429 after two attempts", err)
	}
}

// TestFailover: a request that got no answer from one instance goes to the next.
func TestFailover(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	live, seen := fake(t, 200, `{"concertId":1,"status":"WAITING","position":3}`)
	c := New(dead.URL, WithInstances(live.URL), WithRetries(4, time.Millisecond))
	for range 3 {
		q, err := c.QueueStatus(context.Background(), "tok")
		if err != nil || q.Position != 3 {
			t.Fatalf("%+v %v", q, err)
		}
	}
	if len(*seen) != 3 {
		t.Fatalf("the live instance saw %d requests, want 3", len(*seen))
	}
	// Creating a concert is not safe to repeat after a lost answer: it is not.
	_, err := New(dead.URL, WithRetries(4, time.Millisecond)).CreateConcert(context.Background(), NewConcert{Title: "x"})
	if err == nil || StatusOf(err) != 0 {
		t.Fatalf("got %v, want a transport error", err)
	}
}

// TestEnterSolvesProof: a concert that asks for a proof gets one solved by the
// client, and the proof it sends is valid.
func TestEnterSolvesProof(t *testing.T) {
	t.Parallel()
	var got EnterRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/queue/challenge":
			_, _ = io.WriteString(w, `{"challenge":"c1.xyz","bits":12,"expiresAt":"2026-11-24T10:15:00Z"}`)
		case "/api/users/token":
			got = EnterRequest{}
			_ = json.NewDecoder(r.Body).Decode(&got)
			if got.Proof == nil {
				w.WriteHeader(403)
				_, _ = io.WriteString(w, `{"code":"PROOF_REQUIRED","message":"solve"}`)
				return
			}
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"userToken":"tok","status":"WAITING","position":1}`)
		}
	}))
	defer srv.Close()
	q, err := New(srv.URL).EnterQueue(context.Background(), "uk", EnterRequest{ConcertID: 1})
	if err != nil || q.UserToken != "tok" {
		t.Fatalf("%+v %v", q, err)
	}
	if got.Proof == nil || got.Proof.Challenge != "c1.xyz" || !Verify([]byte("c1.xyz:"+got.Proof.Nonce), 12) {
		t.Fatalf("proof sent: %+v", got.Proof)
	}
}

func TestSolve(t *testing.T) {
	t.Parallel()
	for _, bits := range []int{0, 1, 8, 9, 16} {
		n := Solve("challenge", bits)
		if !Verify([]byte("challenge:"+n), bits) {
			t.Fatalf("bits %d: nonce %q does not verify", bits, n)
		}
		if len(n) < 1 || len(n) > 64 {
			t.Fatalf("nonce %q: want 1 to 64 characters", n)
		}
	}
	if Verify([]byte("x"), 256) {
		t.Fatal("256 zero bits verified")
	}
}

func TestObserver(t *testing.T) {
	t.Parallel()
	srv, _ := fake(t, 409, `{"code":"SEAT_TAKEN","message":"taken"}`)
	var obs []Observation
	c := New(srv.URL, WithObserver(func(o Observation) { obs = append(obs, o) }))
	_, _ = c.Hold(context.Background(), "tok", HoldRequest{ScheduleID: 1, SeatNumber: 1})
	if len(obs) != 1 || obs[0].Route != "POST /api/reservations" || obs[0].Status != 409 || obs[0].Code != "SEAT_TAKEN" {
		t.Fatalf("observed %+v", obs)
	}
}
