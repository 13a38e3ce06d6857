package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
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

func FuzzDecodeCreateUser(f *testing.F) {
	f.Add([]byte(`{"name":"Kim","email":"kim@example.com"}`))
	f.Add([]byte(`{"name":null,"email":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeCreateUser(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkAccepted(t, body)
	})
}

func FuzzDecodeEnter(f *testing.F) {
	f.Add([]byte(`{"userId":7,"concertId":1}`))
	f.Add([]byte(`{"userId":"7","concertId":1.5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeEnter(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkAccepted(t, body)
		if r.UserID < 1 || r.ConcertID < 1 {
			t.Fatalf("%q: %+v", body, r)
		}
	})
}

func FuzzDecodeHold(f *testing.F) {
	f.Add([]byte(`{"concertScheduleId":1,"seatNumber":3}`))
	f.Add([]byte(`{"concertScheduleId":1,"seatNumber":"3"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeHold(body)
		if err != nil {
			checkDecodeError(t, body, err, engine.CodeInvalidSeat)
			return
		}
		checkAccepted(t, body)
		if r.ScheduleID < 1 || r.Seat < 1 || r.Seat > engine.MaxSeatCount {
			t.Fatalf("%q: %+v", body, r)
		}
	})
}

func FuzzDecodePay(f *testing.F) {
	f.Add([]byte(`{"reservationId":123,"paymentAmount":50000}`))
	f.Add([]byte(`{"reservationId":123,"paymentAmount":-1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodePay(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkAccepted(t, body)
		if r.ReservationID < 1 {
			t.Fatalf("%q: %+v", body, r)
		}
	})
}

func FuzzDecodeCharge(f *testing.F) {
	f.Add([]byte(`{"amount":50000}`))
	f.Add([]byte(`{"amount":10000001}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeCharge(body)
		if err != nil {
			checkDecodeError(t, body, err, engine.CodeInvalidAmount)
			return
		}
		checkAccepted(t, body)
		if r.Amount < 1 || r.Amount > engine.MaxChargeAmount {
			t.Fatalf("%q: %+v", body, r)
		}
	})
}

func FuzzDecodeCreateConcert(f *testing.F) {
	f.Add([]byte(`{"title":"t","saleOpensAt":"2026-11-24T10:00:00Z","queue":{"admitPerSecond":100,"maxActive":1000},"schedules":[{"concertDate":"2026-12-24","seatCount":50,"price":50000}]}`))
	f.Add([]byte(`{"title":"t","schedules":[null]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decodeCreateConcert(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkAccepted(t, body)
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
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeQueuePatch(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkAccepted(t, body)
		if (p.AdmitPerSecond != nil && *p.AdmitPerSecond < 1) || (p.MaxActive != nil && *p.MaxActive < 1) {
			t.Fatalf("%q: %+v", body, p)
		}
	})
}
