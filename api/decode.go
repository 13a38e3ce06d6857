package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/concertd/concertd/engine"
)

// Each request body has a small decoder that returns a plain Go struct or a
// BAD_REQUEST / INVALID_* engine error that says what is wrong. Fields are pointers
// in the wire structs so that a missing field and a JSON null are told apart from
// a zero, and integers go through wholeNumber so that "3", 1.5 and 1e3 are refused
// instead of being coerced. Unknown fields are ignored: clients may send more
// (the legacy "userToken", for one).

// wholeNumber is a JSON integer literal. Big marks one outside int64, kept apart
// from a type error because for an amount or a seat it means "out of range", not
// "malformed".
type wholeNumber struct {
	n   int64
	big bool
}

var int64Type = reflect.TypeFor[int64]()

func (w *wholeNumber) UnmarshalJSON(b []byte) error {
	if !isIntegerLiteral(b) {
		// An UnmarshalTypeError gets the field's name added by encoding/json.
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: int64Type}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		*w = wholeNumber{big: true, n: 1}
		if b[0] == '-' {
			w.n = -1
		}
		return nil
	}
	*w = wholeNumber{n: n}
	return nil
}

// isIntegerLiteral reports whether b is -?[0-9]+ (JSON already forbids leading zeros).
func isIntegerLiteral(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number " + string(b)
}

// decodeObject unmarshals a JSON object body into v.
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return engine.Errorf(engine.CodeBadRequest, "a JSON object body is required")
	}
	if trimmed[0] != '{' {
		return engine.Errorf(engine.CodeBadRequest, "the body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// decodeWith unmarshals a JSON object body into a new wire struct W, then lets
// check make the request of it; on an error of either the request is zero.
// A check reads every field and answers cmp.Or of their errors: the first wrong
// field in the order the check names them.
func decodeWith[W, R any](body []byte, check func(w *W) (R, error)) (R, error) {
	var w W
	var r R
	err := decodeObject(body, &w)
	if err == nil {
		r, err = check(&w)
	}
	if err != nil {
		var zero R
		return zero, err
	}
	return r, nil
}

// jsonError turns encoding/json's complaint into a message for the client without
// Go type names in it.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "a field"
		}
		return engine.Errorf(engine.CodeBadRequest, "%s must be %s, not %s", field, typeWord(te.Type), te.Value)
	}
	return engine.Errorf(engine.CodeBadRequest, "the body is not valid JSON")
}

func typeWord(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		if t == reflect.TypeFor[wholeNumber]() {
			return "an integer"
		}
		return "an object"
	}
	return "a different type"
}

func missing(field string) error {
	return engine.Errorf(engine.CodeBadRequest, "%s is required", field)
}

// positiveID checks a required id field.
func positiveID(field string, w *wholeNumber) (int64, error) {
	return requiredInt(field, w, 1, math.MaxInt64, engine.CodeBadRequest, "%s must be a positive integer", field)
}

// requiredInt checks a required integer field that must lie in [lo, hi]; one
// outside is refused with code and the message format gives.
func requiredInt(field string, w *wholeNumber, lo, hi int64, code engine.Code, format string, args ...any) (int64, error) {
	if w == nil {
		return 0, missing(field)
	}
	if w.big || w.n < lo || w.n > hi {
		return 0, engine.Errorf(code, format, args...)
	}
	return w.n, nil
}

// optionalInt checks an optional integer setting that must lie in [lo, hi]: nil
// when it is not given, a BAD_REQUEST with the message format gives when it is
// outside.
func optionalInt(w *wholeNumber, lo, hi int64, format string, args ...any) (*int, error) {
	if w == nil {
		return nil, nil
	}
	if w.big || w.n < lo || w.n > hi {
		return nil, engine.Errorf(engine.CodeBadRequest, format, args...)
	}
	n := int(w.n)
	return &n, nil
}

// requiredString checks a required string field.
func requiredString(field string, s *string) (string, error) {
	if s == nil {
		return "", missing(field)
	}
	return *s, nil
}

type createUserRequest struct {
	Name  string
	Email string
}

func decodeCreateUser(body []byte) (createUserRequest, error) {
	return decodeWith(body, func(w *struct {
		Name  *string `json:"name"`
		Email *string `json:"email"`
	}) (createUserRequest, error) {
		name, errName := requiredString("name", w.Name)
		email, errEmail := requiredString("email", w.Email)
		return createUserRequest{Name: name, Email: email}, cmp.Or(errName, errEmail)
	})
}

type enterRequest struct {
	UserID    int64
	ConcertID int64
	Pass      engine.EntryPass // the optional proof and presaleCode (decode_gates.go)
}

func decodeEnter(body []byte) (enterRequest, error) {
	if user, concert, _, hasConcert, ok := fastInts(body, "userId", "concertId"); ok && hasConcert {
		return enterRequest{UserID: user, ConcertID: concert}, nil
	}
	return decodeEnterJSON(body)
}

func decodeEnterJSON(body []byte) (enterRequest, error) {
	return decodeWith(body, func(w *struct {
		UserID    *wholeNumber `json:"userId"`
		ConcertID *wholeNumber `json:"concertId"`
		gatesWire
	}) (enterRequest, error) {
		pass, errPass := w.pass()
		var user int64 // optional: the credential names the user (0: not given)
		var errUser error
		if w.UserID != nil {
			user, errUser = positiveID("userId", w.UserID)
		}
		concert, errConcert := positiveID("concertId", w.ConcertID)
		return enterRequest{UserID: user, ConcertID: concert, Pass: pass}, cmp.Or(errPass, errUser, errConcert)
	})
}

type holdRequest struct {
	ScheduleID int64
	Seat       int
}

func decodeHold(body []byte) (holdRequest, error) {
	if schedule, seat, ok := fastPair(body, "concertScheduleId", "seatNumber"); ok && seat <= engine.MaxSeatCount {
		return holdRequest{ScheduleID: schedule, Seat: int(seat)}, nil
	}
	return decodeHoldJSON(body)
}

func decodeHoldJSON(body []byte) (holdRequest, error) {
	return decodeWith(body, func(w *struct {
		ScheduleID *wholeNumber `json:"concertScheduleId"`
		Seat       *wholeNumber `json:"seatNumber"`
	}) (holdRequest, error) {
		schedule, errSchedule := positiveID("concertScheduleId", w.ScheduleID)
		// The schedule's own seat count is the engine's to check; here only what no
		// schedule could have.
		seat, errSeat := requiredInt("seatNumber", w.Seat, 1, engine.MaxSeatCount, engine.CodeInvalidSeat, "seatNumber must be 1 to the schedule's seat count")
		return holdRequest{ScheduleID: schedule, Seat: int(seat)}, cmp.Or(errSchedule, errSeat)
	})
}

type payRequest struct {
	ReservationID  int64   // one reservation; 0 when ReservationIDs names several
	ReservationIDs []int64 // the reservations paid together; nil for one
	Amount         int64
}

// maxPayIDs bounds the list a decoder accepts; the engine holds it to
// maxHoldsPerUser, which is never more.
const maxPayIDs = 100

func decodePay(body []byte) (payRequest, error) {
	var w struct {
		ReservationID  *wholeNumber   `json:"reservationId"`
		ReservationIDs *[]wholeNumber `json:"reservationIds"`
		Amount         *wholeNumber   `json:"paymentAmount"`
	}
	if err := decodeObject(body, &w); err != nil {
		return payRequest{}, err
	}
	var req payRequest
	switch {
	case w.ReservationIDs == nil:
		id, err := positiveID("reservationId", w.ReservationID)
		if err != nil {
			return payRequest{}, err
		}
		req.ReservationID = id
	case w.ReservationID != nil:
		return payRequest{}, engine.Errorf(engine.CodeBadRequest, "give reservationId or reservationIds, not both")
	default:
		list := *w.ReservationIDs
		if len(list) == 0 || len(list) > maxPayIDs {
			return payRequest{}, engine.Errorf(engine.CodeBadRequest, "reservationIds must list 1 to maxHoldsPerUser reservations")
		}
		req.ReservationIDs = make([]int64, len(list))
		for i := range list {
			id, err := positiveID("reservationIds", &list[i])
			if err != nil {
				return payRequest{}, err
			}
			if slices.Contains(req.ReservationIDs[:i], id) {
				return payRequest{}, engine.Errorf(engine.CodeBadRequest, "reservationIds lists %d twice", id)
			}
			req.ReservationIDs[i] = id
		}
	}
	if w.Amount == nil {
		return payRequest{}, missing("paymentAmount")
	}
	if w.Amount.big {
		return payRequest{}, engine.Errorf(engine.CodeBadRequest, "paymentAmount is out of range")
	}
	// Any other integer is the engine's to compare with the price (AMOUNT_MISMATCH).
	req.Amount = w.Amount.n
	return req, nil
}

type chargeRequest struct {
	Amount int64
}

func decodeCharge(body []byte) (chargeRequest, error) {
	return decodeWith(body, func(w *struct {
		Amount *wholeNumber `json:"amount"`
	}) (chargeRequest, error) {
		amount, err := requiredInt("amount", w.Amount, 1, engine.MaxChargeAmount, engine.CodeInvalidAmount, "amount must be 1 to %d", engine.MaxChargeAmount)
		return chargeRequest{Amount: amount}, err
	})
}

type queueSettingsWire struct {
	AdmitPerSecond *wholeNumber `json:"admitPerSecond"`
	MaxActive      *wholeNumber `json:"maxActive"`
	Paused         *bool        `json:"paused"`

	ProofOfWorkBits *wholeNumber `json:"proofOfWorkBits"`
	Closed          *bool        `json:"closed"` // PATCH only
	// MaxTicketsPerUser may be 0: no ticket limit.
	MaxTicketsPerUser *wholeNumber `json:"maxTicketsPerUser"`
}

// ticketLimit checks an optional maxTicketsPerUser, where 0 means no limit.
func ticketLimit(w *wholeNumber) (*int, error) {
	return optionalInt(w, 0, engine.MaxSeatCount, "maxTicketsPerUser must be 0 (no limit) to %d", engine.MaxSeatCount)
}

// setting checks an optional queue setting; an explicit 0 is refused rather than
// read as "default", which would surprise an operator who meant "stop".
func setting(field string, w *wholeNumber) (*int, error) {
	return optionalInt(w, 1, 1<<31, "%s must be a positive integer", field)
}

func decodeCreateConcert(body []byte) (engine.NewConcert, error) {
	var w struct {
		Title       *string            `json:"title"`
		Description *string            `json:"description"`
		SaleOpensAt *string            `json:"saleOpensAt"`
		Queue       *queueSettingsWire `json:"queue"`
		Schedules   []*struct {
			Date      *string        `json:"concertDate"`
			SeatCount *wholeNumber   `json:"seatCount"`
			Price     *wholeNumber   `json:"price"`
			Sections  []*sectionWire `json:"sections"`
		} `json:"schedules"`
	}
	if err := decodeObject(body, &w); err != nil {
		return engine.NewConcert{}, err
	}
	var c engine.NewConcert
	var err error
	if c.Title, err = requiredString("title", w.Title); err != nil {
		return engine.NewConcert{}, err
	}
	if w.Description != nil {
		c.Description = *w.Description
	}
	if w.SaleOpensAt != nil {
		t, err := time.Parse(time.RFC3339, *w.SaleOpensAt)
		if err != nil {
			return engine.NewConcert{}, engine.Errorf(engine.CodeBadRequest, "saleOpensAt must be an RFC 3339 instant like 2026-11-24T10:00:00Z")
		}
		c.SaleOpensAt = t.UTC()
	}
	if q := w.Queue; q != nil {
		admit, err := setting("queue.admitPerSecond", q.AdmitPerSecond)
		if err != nil {
			return engine.NewConcert{}, err
		}
		active, err := setting("queue.maxActive", q.MaxActive)
		if err != nil {
			return engine.NewConcert{}, err
		}
		if admit != nil {
			c.Queue.AdmitPerSecond = *admit
		}
		if active != nil {
			c.Queue.MaxActive = *active
		}
		if q.Paused != nil {
			c.Queue.Paused = *q.Paused
		}
		bits, err := powBitsSetting("queue.proofOfWorkBits", q.ProofOfWorkBits)
		if err != nil {
			return engine.NewConcert{}, err
		}
		if bits != nil {
			c.Queue.ProofOfWorkBits = *bits
		}
		tickets, err := ticketLimit(q.MaxTicketsPerUser)
		if err != nil {
			return engine.NewConcert{}, err
		}
		if tickets != nil {
			c.Queue.MaxTicketsPerUser = *tickets
		}
	}
	if len(w.Schedules) == 0 {
		return engine.NewConcert{}, engine.Errorf(engine.CodeBadRequest, "schedules must list at least one schedule")
	}
	c.Schedules = make([]engine.NewSchedule, len(w.Schedules))
	for i, s := range w.Schedules {
		if s == nil {
			return engine.NewConcert{}, engine.Errorf(engine.CodeBadRequest, "schedules[%d] must be an object", i)
		}
		if s.Date == nil {
			return engine.NewConcert{}, engine.Errorf(engine.CodeBadRequest, "schedules[%d].concertDate is required", i)
		}
		if _, err := engine.ParseConcertDate(i, *s.Date); err != nil {
			return engine.NewConcert{}, err
		}
		if s.Sections != nil {
			if s.SeatCount != nil || s.Price != nil {
				return engine.NewConcert{}, engine.Errorf(engine.CodeBadRequest, "schedules[%d] gives sections or seatCount and price, not both", i)
			}
			secs, err := decodeSections(i, s.Sections)
			if err != nil {
				return engine.NewConcert{}, err
			}
			c.Schedules[i] = engine.NewSchedule{Date: *s.Date, Sections: secs}
			continue
		}
		if s.SeatCount == nil || s.SeatCount.big || s.SeatCount.n < 1 || s.SeatCount.n > engine.MaxSeatCount {
			return engine.NewConcert{}, engine.Errorf(engine.CodeBadRequest, "schedules[%d].seatCount must be 1 to %d", i, engine.MaxSeatCount)
		}
		if s.Price == nil || s.Price.big || s.Price.n < 1 || s.Price.n > engine.MaxChargeAmount {
			return engine.NewConcert{}, engine.Errorf(engine.CodeBadRequest, "schedules[%d].price must be 1 to %d", i, engine.MaxChargeAmount)
		}
		c.Schedules[i] = engine.NewSchedule{Date: *s.Date, SeatCount: int(s.SeatCount.n), Price: s.Price.n}
	}
	return c, nil
}

func decodeQueuePatch(body []byte) (engine.QueuePatch, error) {
	return decodeWith(body, func(w *queueSettingsWire) (engine.QueuePatch, error) {
		p := engine.QueuePatch{Paused: w.Paused, Closed: w.Closed}
		var errAdmit, errActive, errBits, errTickets error
		p.AdmitPerSecond, errAdmit = setting("admitPerSecond", w.AdmitPerSecond)
		p.MaxActive, errActive = setting("maxActive", w.MaxActive)
		p.ProofOfWorkBits, errBits = powBitsSetting("proofOfWorkBits", w.ProofOfWorkBits)
		p.MaxTicketsPerUser, errTickets = ticketLimit(w.MaxTicketsPerUser)
		return p, cmp.Or(errAdmit, errActive, errBits, errTickets)
	})
}

// parseID reads a positive decimal id from a path segment or query value.
func parseID(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
