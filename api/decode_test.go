package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

func code(err error) engine.Code {
	var e *engine.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestDecodeHold(t *testing.T) {
	for _, c := range []struct {
		body string
		want holdRequest
		code engine.Code
	}{
		{`{"concertScheduleId":1,"seatNumber":3}`, holdRequest{1, 3}, ""},
		{` {"seatNumber":100000,"concertScheduleId":9007199254740993,"extra":[1]} `, holdRequest{9007199254740993, 100000}, ""},
		{`{"concertScheduleId":1,"seatNumber":3,"userToken":"x"}`, holdRequest{1, 3}, ""},
		{`{"concertScheduleId":1,"seatNumber":"3"}`, holdRequest{}, engine.CodeBadRequest},
		{`{"concertScheduleId":1,"seatNumber":3.0}`, holdRequest{}, engine.CodeBadRequest},
		{`{"concertScheduleId":1,"seatNumber":3e0}`, holdRequest{}, engine.CodeBadRequest},
		{`{"concertScheduleId":1,"seatNumber":null}`, holdRequest{}, engine.CodeBadRequest},
		{`{"concertScheduleId":1,"seatNumber":[3]}`, holdRequest{}, engine.CodeBadRequest},
		{`{"concertScheduleId":1}`, holdRequest{}, engine.CodeBadRequest},
		{`{"concertScheduleId":-1,"seatNumber":3}`, holdRequest{}, engine.CodeBadRequest},
		{`{"concertScheduleId":1,"seatNumber":0}`, holdRequest{}, engine.CodeInvalidSeat},
		{`{"concertScheduleId":1,"seatNumber":-0}`, holdRequest{}, engine.CodeInvalidSeat},
		{`{"concertScheduleId":1,"seatNumber":100001}`, holdRequest{}, engine.CodeInvalidSeat},
		{`{"concertScheduleId":1,"seatNumber":-99999999999999999999}`, holdRequest{}, engine.CodeInvalidSeat},
		{`{"concertScheduleId":1,"seatNumber":3}{}`, holdRequest{}, engine.CodeBadRequest},
		{`null`, holdRequest{}, engine.CodeBadRequest},
		{``, holdRequest{}, engine.CodeBadRequest},
		{`{"concertScheduleId":01,"seatNumber":3}`, holdRequest{}, engine.CodeBadRequest},
	} {
		got, err := decodeHold([]byte(c.body))
		if code(err) != c.code || (err != nil) != (c.code != "") {
			t.Errorf("%s: err %v, want code %q", c.body, err, c.code)
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.body, got, c.want)
		}
	}
}

func TestDecodeMessagesNameTheField(t *testing.T) {
	_, err := decodeHold([]byte(`{"concertScheduleId":1,"seatNumber":"3"}`))
	if msg := err.(*engine.Error).Message; msg != "seatNumber must be an integer, not string" {
		t.Fatalf("message %q", msg)
	}
	_, err = decodeCreateConcert([]byte(`{"title":"t","schedules":[{"concertDate":"2026-12-24","seatCount":true,"price":1}]}`))
	if msg := err.(*engine.Error).Message; msg != "schedules.seatCount must be an integer, not bool" {
		t.Fatalf("message %q", msg)
	}
	_, err = decodeCreateConcert([]byte(`{"title":"t","schedules":[{"concertDate":"2026-12-24","seatCount":1,"price":1},{"concertDate":"0000-12-24","seatCount":1,"price":1}]}`))
	if msg := err.(*engine.Error).Message; msg != "schedules[1].concertDate must be a date YYYY-MM-DD from 2000-01-01 to 9999-12-31" {
		t.Fatalf("message %q", msg)
	}
	_, err = decodeCreateUser([]byte(`{"name":{"a":1},"email":"x"}`))
	if msg := err.(*engine.Error).Message; msg != "name must be a string, not object" {
		t.Fatalf("message %q", msg)
	}
}

func TestDecodeSmallBodies(t *testing.T) {
	u, err := decodeCreateUser([]byte(`{"name":"Kim","email":"kim@example.com"}`))
	if err != nil || u != (createUserRequest{"Kim", "kim@example.com"}) {
		t.Fatalf("create user: %+v %v", u, err)
	}
	en, err := decodeEnter([]byte(`{"userId":7,"concertId":1}`))
	if err != nil || en != (enterRequest{UserID: 7, ConcertID: 1}) {
		t.Fatalf("enter: %+v %v", en, err)
	}
	p, err := decodePay([]byte(`{"reservationId":123,"paymentAmount":50000}`))
	if err != nil || p.ReservationID != 123 || p.ReservationIDs != nil || p.Amount != 50000 {
		t.Fatalf("pay: %+v %v", p, err)
	}
	p, err = decodePay([]byte(`{"reservationId":123,"paymentAmount":-1}`))
	if err != nil || p.Amount != -1 {
		t.Fatalf("pay passes a wrong amount on for the engine to judge: %+v %v", p, err)
	}
	if _, err := decodePay([]byte(`{"reservationId":123,"paymentAmount":1e400}`)); code(err) != engine.CodeBadRequest {
		t.Fatalf("pay with a float amount: %v", err)
	}
	ch, err := decodeCharge([]byte(`{"amount":10000000}`))
	if err != nil || ch.Amount != 10_000_000 {
		t.Fatalf("charge: %+v %v", ch, err)
	}
	for _, body := range []string{`{"amount":10000001}`, `{"amount":0}`, `{"amount":99999999999999999999}`} {
		if _, err := decodeCharge([]byte(body)); code(err) != engine.CodeInvalidAmount {
			t.Fatalf("%s: %v", body, err)
		}
	}
}

func TestDecodeCreateConcert(t *testing.T) {
	c, err := decodeCreateConcert([]byte(`{"title":"Gala","description":"d","saleOpensAt":"2026-11-24T19:00:00+09:00",
		"queue":{"admitPerSecond":100,"maxActive":1000},
		"schedules":[{"concertDate":"2026-12-24","seatCount":50,"price":50000},{"concertDate":"2026-12-25","seatCount":1,"price":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.NewConcert{
		Title: "Gala", Description: "d", SaleOpensAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		Queue: engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000},
		Schedules: []engine.NewSchedule{
			{Date: "2026-12-24", SeatCount: 50, Price: 50000},
			{Date: "2026-12-25", SeatCount: 1, Price: 1},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	// saleOpensAt and queue are optional.
	c, err = decodeCreateConcert([]byte(`{"title":"t","schedules":[{"concertDate":"2026-12-24","seatCount":5,"price":1}]}`))
	if err != nil || !c.SaleOpensAt.IsZero() || c.Queue != (engine.QueueSettings{}) {
		t.Fatalf("optional fields: %+v %v", c, err)
	}
}

func TestDecodeQueuePatch(t *testing.T) {
	p, err := decodeQueuePatch([]byte(`{"admitPerSecond":500}`))
	if err != nil || p.AdmitPerSecond == nil || *p.AdmitPerSecond != 500 || p.MaxActive != nil || p.Paused != nil {
		t.Fatalf("patch: %+v %v", p, err)
	}
	p, err = decodeQueuePatch([]byte(`{"paused":false,"maxActive":5000}`))
	if err != nil || p.Paused == nil || *p.Paused || p.MaxActive == nil || *p.MaxActive != 5000 {
		t.Fatalf("patch: %+v %v", p, err)
	}
	for _, body := range []string{`{"paused":1}`, `{"maxActive":-1}`, `{"admitPerSecond":"5"}`, `[]`} {
		if _, err := decodeQueuePatch([]byte(body)); code(err) != engine.CodeBadRequest {
			t.Fatalf("%s: %v", body, err)
		}
	}
}

func TestParseID(t *testing.T) {
	for s, want := range map[string]int64{"1": 1, "007": 7, "9223372036854775807": 1<<63 - 1} {
		if n, ok := parseID(s); !ok || n != want {
			t.Errorf("parseID(%q) = %d, %v", s, n, ok)
		}
	}
	for _, s := range []string{"", "0", "-1", "+1", "1.0", "1e3", " 1", "9223372036854775808", "99999999999999999999", "abc"} {
		if _, ok := parseID(s); ok {
			t.Errorf("parseID(%q) accepted", s)
		}
	}
}

// The hand-written encoder must say exactly what encoding/json would.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "tab\tnl\ncr\r\x00\x1f", "한글 ☃", "bad\xffutf8\xc3", "line\u2028sep\u2029", "<&>"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: round trip %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func TestAppendStatusFields(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 25, 0, 999_000_000, time.FixedZone("KST", 9*3600))
	for _, c := range []struct {
		q    engine.QueueStatus
		want string
	}{
		{engine.QueueStatus{ConcertID: 1, State: engine.TokenWaiting, Position: 1204, EstimatedWait: 95 * time.Second, PollAfter: 5 * time.Second},
			`{"concertId":1,"status":"WAITING","position":1204,"estimatedWaitSeconds":95,"pollAfterSeconds":5}`},
		{engine.QueueStatus{ConcertID: 1, State: engine.TokenWaiting, PreQueue: true, SaleOpensAt: at, PollAfter: 30 * time.Second},
			`{"concertId":1,"status":"WAITING","saleOpensAt":"2026-11-24T01:25:00Z","pollAfterSeconds":30}`},
		{engine.QueueStatus{ConcertID: 2, State: engine.TokenActive, ExpiresAt: at},
			`{"concertId":2,"status":"ACTIVE","expiresAt":"2026-11-24T01:25:00Z"}`},
		{engine.QueueStatus{ConcertID: 3, State: engine.TokenDone}, `{"concertId":3,"status":"DONE"}`},
	} {
		got := string(append(appendStatusFields([]byte{'{'}, c.q), '}'))
		if got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestEncodeSeatMap(t *testing.T) {
	v := &engine.SeatMapView{ScheduleID: 4, Price: 50000, Seats: []engine.SeatStatus{engine.SeatAvailable, engine.SeatPending, engine.SeatReserved}}
	want := `{"concertScheduleId":4,"availableSeats":[` +
		`{"seatNumber":1,"status":"available","price":50000,"section":"A","row":1,"seat":1,"label":"A-1-1"},` +
		`{"seatNumber":2,"status":"pending","price":50000,"section":"A","row":1,"seat":2,"label":"A-1-2"},` +
		`{"seatNumber":3,"status":"reserved","price":50000,"section":"A","row":1,"seat":3,"label":"A-1-3"}]}`
	if got := string(encodeSeatMap(v)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// A layout: seats run through the sections row by row, each at its section's price.
	laid := &engine.SeatMapView{ScheduleID: 5, Price: 9, Seats: make([]engine.SeatStatus, 5), Sections: []engine.Section{
		{Name: "VIP", Price: 9, Rows: 1, SeatsPerRow: 1}, {Name: "R \"2\"", Price: 7, Rows: 2, SeatsPerRow: 2}}}
	want = `{"concertScheduleId":5,"availableSeats":[` +
		`{"seatNumber":1,"status":"available","price":9,"section":"VIP","row":1,"seat":1,"label":"VIP-1-1"},` +
		`{"seatNumber":2,"status":"available","price":7,"section":"R \"2\"","row":1,"seat":1,"label":"R \"2\"-1-1"},` +
		`{"seatNumber":3,"status":"available","price":7,"section":"R \"2\"","row":1,"seat":2,"label":"R \"2\"-1-2"},` +
		`{"seatNumber":4,"status":"available","price":7,"section":"R \"2\"","row":2,"seat":1,"label":"R \"2\"-2-1"},` +
		`{"seatNumber":5,"status":"available","price":7,"section":"R \"2\"","row":2,"seat":2,"label":"R \"2\"-2-2"}]}`
	for range 2 { // built, then from the cache
		if got := string(encodeSeatMap(laid)); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	var c seatMapBodies
	b := c.body(v)
	if c.body(v) != b {
		t.Fatal("same view, new cache entry")
	}
	if c.body(&engine.SeatMapView{ScheduleID: 4}) == b {
		t.Fatal("new view, old cache entry")
	}
}
