package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzAnswer: whatever a server (or something posing as one) answers, decoding
// never panics; a non-2xx answer is always an *Error with that status and a
// code; a 2xx answer that is not the expected JSON is an error, never a
// half-filled success.
func FuzzAnswer(f *testing.F) {
	f.Add(201, []byte(`{"reservationId":123,"status":"PENDING","seatNumber":3}`), "")
	f.Add(409, []byte(`{"code":"SEAT_TAKEN","message":"taken"}`), "")
	f.Add(429, []byte(`{"code":"RATE_LIMITED"}`), "2")
	f.Add(503, []byte(`<html>`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(200, []byte(`{"reservationId":"x"}`), "")
	f.Add(500, []byte{0xff, 0xfe}, "-1")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		if status < 200 || status > 599 {
			return
		}
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		if status >= 300 {
			e := decodeError(status, h, body)
			if e.Status != status || e.Code == "" || e.RetryAfter < 0 {
				t.Fatalf("decoded %+v", e)
			}
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		r, err := New(srv.URL).Hold(context.Background(), "tok", HoldRequest{ScheduleID: 1, SeatNumber: 1})
		var e *Error
		switch {
		case status >= 300 && (!errors.As(err, &e) || e.Status != status):
			t.Fatalf("status %d gave %v", status, err)
		case status < 300 && err == nil && !json.Valid(body):
			t.Fatalf("status %d with invalid JSON %q decoded as %+v", status, body, r)
		}
	})
}
