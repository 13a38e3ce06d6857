package api

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/pow"
)

// Every decoder, whatever the bytes: no panic, and either a struct that keeps the
// decoder's promises or a BAD_REQUEST / INVALID_* error with a message. Seeds are
// in testdata/fuzz/<FuzzName>/ as well as below.

func checkDecodeError(t *testing.T, body []byte, err error, allowed ...engine.Code) {
	t.Helper()
	e, ok := err.(*engine.Error)
	if !ok {
		t.Fatalf("%q: error %T %v is not an engine error", body, err, err)
	}
	if e.Message == "" {
		t.Fatalf("%q: %s without a message", body, e.Code)
	}
	if e.Code == engine.CodeBadRequest {
		return
	}
	for _, c := range allowed {
		if e.Code == c {
			return
		}
	}
	t.Fatalf("%q: code %s", body, e.Code)
}

// checkAccepted holds for every body a decoder accepts: it is a JSON object.
func checkAccepted(t *testing.T, body []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%q accepted but is not a JSON object: %v", body, err)
	}
}

// fuzzDecoder fuzzes decode: whatever the body, either an error checkDecodeError
// passes (allowed adds codes to BAD_REQUEST) or an accepted JSON object whose
// request keeps, when keeps is not nil, the decoder's promises.
func fuzzDecoder[R any](f *testing.F, decode func([]byte) (R, error), keeps func(t *testing.T, body []byte, r R), allowed ...engine.Code) {
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decode(body)
		if err != nil {
			checkDecodeError(t, body, err, allowed...)
			return
		}
		checkAccepted(t, body)
		if keeps != nil {
			keeps(t, body, r)
		}
	})
}

func FuzzDecodeCreateUser(f *testing.F) {
	f.Add([]byte(`{"name":"Kim","email":"kim@example.com"}`))
	f.Add([]byte(`{"name":null,"email":"x"}`))
	fuzzDecoder(f, decodeCreateUser, nil)
}

func FuzzDecodeEnter(f *testing.F) {
	f.Add([]byte(`{"userId":7,"concertId":1}`))
	f.Add([]byte(`{"userId":"7","concertId":1.5}`))
	f.Add([]byte(`{"userId":7,"concertId":1,"proof":{"challenge":"p1.1.20.1.a.b","nonce":"x"},"presaleCode":"AB-CD"}`))
	f.Add([]byte(`{"userId":7,"concertId":1,"proof":{"challenge":"","nonce":"\u0001"}}`))
	f.Add([]byte(`{"userId":7,"concertId":1,"proof":null,"presaleCode":null}`))
	fuzzDecoder(f, decodeEnter, func(t *testing.T, body []byte, r enterRequest) {
		if r.UserID < 0 || r.ConcertID < 1 { // userId is optional: 0 when absent
			t.Fatalf("%q: %+v", body, r)
		}
		if p := r.Pass.Proof; p != nil && (p.Challenge == "" || !pow.ValidNonce(p.Nonce)) {
			t.Fatalf("%q: accepted proof %+v", body, *p)
		}
	})
}

func FuzzDecodeHold(f *testing.F) {
	f.Add([]byte(`{"concertScheduleId":1,"seatNumber":3}`))
	f.Add([]byte(`{"concertScheduleId":1,"seatNumber":"3"}`))
	fuzzDecoder(f, decodeHold, func(t *testing.T, body []byte, r holdRequest) {
		if r.ScheduleID < 1 || r.Seat < 1 || r.Seat > engine.MaxSeatCount {
			t.Fatalf("%q: %+v", body, r)
		}
	}, engine.CodeInvalidSeat)
}

func FuzzDecodePay(f *testing.F) {
	f.Add([]byte(`{"reservationId":123,"paymentAmount":50000}`))
	f.Add([]byte(`{"reservationId":123,"paymentAmount":-1}`))
	f.Add([]byte(`{"reservationIds":[123,124],"paymentAmount":180000}`))
	f.Add([]byte(`{"reservationIds":[123,123],"paymentAmount":180000}`))
	fuzzDecoder(f, decodePay, func(t *testing.T, body []byte, r payRequest) {
		// Exactly one of the two forms, each id positive, none twice.
		if (r.ReservationID < 1) == (r.ReservationIDs == nil) || len(r.ReservationIDs) > maxPayIDs {
			t.Fatalf("%q: %+v", body, r)
		}
		for i, id := range r.ReservationIDs {
			if id < 1 || slices.Contains(r.ReservationIDs[:i], id) {
				t.Fatalf("%q: %+v", body, r)
			}
		}
	})
}

func FuzzDecodeCharge(f *testing.F) {
	f.Add([]byte(`{"amount":50000}`))
	f.Add([]byte(`{"amount":10000001}`))
	fuzzDecoder(f, decodeCharge, func(t *testing.T, body []byte, r chargeRequest) {
		if r.Amount < 1 || r.Amount > engine.MaxChargeAmount {
			t.Fatalf("%q: %+v", body, r)
		}
	}, engine.CodeInvalidAmount)
}

func FuzzDecodeCreateConcert(f *testing.F) {
	f.Add([]byte(`{"title":"t","saleOpensAt":"2026-11-24T10:00:00Z","queue":{"admitPerSecond":100,"maxActive":1000},"schedules":[{"concertDate":"2026-12-24","seatCount":50,"price":50000}]}`))
	f.Add([]byte(`{"title":"t","schedules":[null]}`))
	fuzzDecoder(f, decodeCreateConcert, func(t *testing.T, body []byte, c engine.NewConcert) {
		if len(c.Schedules) == 0 || c.Queue.AdmitPerSecond < 0 || c.Queue.MaxActive < 0 {
			t.Fatalf("%q: %+v", body, c)
		}
		for _, s := range c.Schedules {
			if _, err := time.Parse(time.DateOnly, s.Date); err != nil || s.SeatCount < 1 || s.SeatCount > engine.MaxSeatCount ||
				s.Price < 1 || s.Price > engine.MaxChargeAmount {
				t.Fatalf("%q: schedule %+v", body, s)
			}
		}
	})
}

func FuzzDecodeQueuePatch(f *testing.F) {
	f.Add([]byte(`{"admitPerSecond":500,"maxActive":5000,"paused":true}`))
	f.Add([]byte(`{"paused":"yes"}`))
	fuzzDecoder(f, decodeQueuePatch, func(t *testing.T, body []byte, p engine.QueuePatch) {
		if (p.AdmitPerSecond != nil && *p.AdmitPerSecond < 1) || (p.MaxActive != nil && *p.MaxActive < 1) {
			t.Fatalf("%q: %+v", body, p)
		}
	})
}

// FuzzFastPairMatchesDecoder: whatever the hand-read fast path accepts, the general
// JSON decoder accepts too, with the same values.
func FuzzFastPairMatchesDecoder(f *testing.F) {
	for _, s := range []string{
		`{"userId":7,"concertId":1}`, ` { "concertId" : 12 ,"userId":3 } `, `{"userId":7,"userId":1}`,
		`{"userId":07,"concertId":1}`, `{"userId":7,"concertId":1}x`, `{"userId":1e3,"concertId":1}`,
		`{"concertScheduleId":1,"seatNumber":3}`, `{"seatNumber":100001,"concertScheduleId":1}`,
		`{"userid":7,"concertId":1}`, `{"userId":999999999999999999,"concertId":1}`,
		`{"concertId":5}`, `{"userId":5}`, ` {"concertId" : 5 } `, `{"concertId":5,}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if u, c, _, hasConcert, ok := fastInts(body, "userId", "concertId"); ok && hasConcert {
			r, err := decodeEnterJSON(body)
			if err != nil || r != (enterRequest{UserID: u, ConcertID: c}) {
				t.Fatalf("%q: fast path %d %d, decoder %+v %v", body, u, c, r, err)
			}
		}
		if s, n, ok := fastPair(body, "concertScheduleId", "seatNumber"); ok && n <= engine.MaxSeatCount {
			r, err := decodeHoldJSON(body)
			if err != nil || r != (holdRequest{ScheduleID: s, Seat: int(n)}) {
				t.Fatalf("%q: fast path %d %d, decoder %+v %v", body, s, n, r, err)
			}
		}
	})
}

// TestFastPair: the shapes the fast path takes and the ones it leaves to the decoder.
func TestFastPair(t *testing.T) {
	for _, tc := range []struct {
		body string
		a, b int64
		ok   bool
	}{
		{`{"userId":7,"concertId":1}`, 7, 1, true},
		{"\t{ \"concertId\" : 12 ,\n\"userId\":3 } ", 3, 12, true},
		{`{"userId":999999999999999999,"concertId":1}`, 999999999999999999, 1, true},
		{`{"userId":1000000000000000000,"concertId":1}`, 0, 0, false}, // 19 digits
		{`{"userId":7,"userId":1}`, 0, 0, false},
		{`{"userId":7}`, 0, 0, false},
		{`{"userId":7,"concertId":1,"x":2}`, 0, 0, false},
		{`{"userId":0,"concertId":1}`, 0, 0, false},
		{`{"userId":07,"concertId":1}`, 0, 0, false},
		{`{"userId":-7,"concertId":1}`, 0, 0, false},
		{`{"userId":7.0,"concertId":1}`, 0, 0, false},
		{`{"userId":7e0,"concertId":1}`, 0, 0, false},
		{`{"userId":"7","concertId":1}`, 0, 0, false},
		{`{"userid":7,"concertId":1}`, 0, 0, false},
		{`{"user\u0049d":7,"concertId":1}`, 0, 0, false},
		{`{"userId":7,"concertId":1}}`, 0, 0, false},
		{`{"userId":7,"concertId":1`, 0, 0, false},
		{``, 0, 0, false},
	} {
		a, b, ok := fastPair([]byte(tc.body), "userId", "concertId")
		if ok != tc.ok || (ok && (a != tc.a || b != tc.b)) {
			t.Errorf("%q: %d %d %v, want %d %d %v", tc.body, a, b, ok, tc.a, tc.b, tc.ok)
		}
	}
}

// TestFastInts: a body may carry one of the two keys alone.
func TestFastInts(t *testing.T) {
	for _, tc := range []struct {
		body         string
		a, b         int64
		seenA, seenB bool
		ok           bool
	}{
		{`{"concertId":5}`, 0, 5, false, true, true},
		{` { "userId" : 9 } `, 9, 0, true, false, true},
		{`{"userId":7,"concertId":1}`, 7, 1, true, true, true},
		{`{"concertId":5,}`, 0, 0, false, false, false},
		{`{"concertId":5 "userId":1}`, 0, 0, false, false, false},
		{`{}`, 0, 0, false, false, false},
		{`{"concertId":5}x`, 0, 0, false, false, false},
		{`{"other":5}`, 0, 0, false, false, false},
	} {
		a, b, seenA, seenB, ok := fastInts([]byte(tc.body), "userId", "concertId")
		if ok != tc.ok || (ok && (a != tc.a || b != tc.b || seenA != tc.seenA || seenB != tc.seenB)) {
			t.Errorf("%q: %d %d %v %v %v, want %d %d %v %v %v", tc.body, a, b, seenA, seenB, ok, tc.a, tc.b, tc.seenA, tc.seenB, tc.ok)
		}
	}
}
