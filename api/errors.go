package api

import (
	"context"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// statusOf is the one table from contract code to HTTP status (API.md "Error codes").
var statusOf = map[engine.Code]int{
	engine.CodeBadRequest:     fasthttp.StatusBadRequest,
	engine.CodeInvalidAmount:  fasthttp.StatusBadRequest,
	engine.CodeInvalidSeat:    fasthttp.StatusBadRequest,
	engine.CodeAmountMismatch: fasthttp.StatusBadRequest,

	engine.CodeTokenMissing: fasthttp.StatusUnauthorized,
	engine.CodeTokenInvalid: fasthttp.StatusUnauthorized,
	engine.CodeTokenExpired: fasthttp.StatusUnauthorized,

	engine.CodeInsufficientBalance: fasthttp.StatusPaymentRequired,

	engine.CodeNotAdmitted:  fasthttp.StatusForbidden,
	engine.CodeWrongConcert: fasthttp.StatusForbidden,
	engine.CodeAdminOnly:    fasthttp.StatusForbidden,

	engine.CodeProofRequired: fasthttp.StatusForbidden,
	engine.CodeProofInvalid:  fasthttp.StatusForbidden,
	engine.CodeNotInvited:    fasthttp.StatusForbidden,

	engine.CodeNotFound:            fasthttp.StatusNotFound,
	engine.CodeUserNotFound:        fasthttp.StatusNotFound,
	engine.CodeConcertNotFound:     fasthttp.StatusNotFound,
	engine.CodeScheduleNotFound:    fasthttp.StatusNotFound,
	engine.CodeReservationNotFound: fasthttp.StatusNotFound,

	engine.CodeMethodNotAllowed: fasthttp.StatusMethodNotAllowed,

	engine.CodeSeatTaken:            fasthttp.StatusConflict,
	engine.CodeHoldLimitReached:     fasthttp.StatusConflict,
	engine.CodeSeatsUnavailable:     fasthttp.StatusConflict,
	engine.CodeTicketLimitReached:   fasthttp.StatusConflict,
	engine.CodeAlreadyPaid:          fasthttp.StatusConflict,
	engine.CodeEmailTaken:           fasthttp.StatusConflict,
	engine.CodeIdempotencyKeyReused: fasthttp.StatusConflict,

	engine.CodeReservationExpired: fasthttp.StatusGone,
	engine.CodeSaleClosed:         fasthttp.StatusGone,

	engine.CodeBodyTooLarge: fasthttp.StatusRequestEntityTooLarge,

	engine.CodeRateLimited: fasthttp.StatusTooManyRequests,

	engine.CodeUnavailable: fasthttp.StatusServiceUnavailable,

	engine.CodeInternal: fasthttp.StatusInternalServerError,
}

var (
	errBodyTooLarge = engine.Errorf(engine.CodeBodyTooLarge, "request body is larger than 64 KiB")
	errInternal     = engine.Errorf(engine.CodeInternal, "internal error")
)

// writeError is the only place an error becomes an HTTP answer.
func (s *Server) writeError(rc *fasthttp.RequestCtx, err error) {
	e, isEngine := asEngineError(err)
	switch {
	case isEngine && e == engine.ErrPaymentInProgress:
		// A 503 of its own: another attempt of the payment is in flight, nothing is down.
	case errors.Is(err, engine.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		// A dependency is down or slow: tell the client to come back rather than
		// blame it, and keep the cause (addresses, driver text) in our logs.
		s.outageLog.Warn().Err(err).Str("path", string(rc.Path())).Msg("dependency unavailable")
		e = engine.ErrUnavailable
	case isEngine:
		if _, ok := statusOf[e.Code]; !ok {
			s.log.Error().Err(err).Str("path", string(rc.Path())).Msg("engine error with a code outside the contract")
			e = errInternal
		} else if e.Code == engine.CodeInternal {
			s.log.Error().Err(err).Str("path", string(rc.Path())).Msg("internal error")
		}
	default:
		s.log.Error().Err(err).Str("path", string(rc.Path())).Msg("unexpected error")
		e = errInternal
	}
	writeErrorBody(rc, e.Code, e.Message)
}

// asEngineError is errors.As for the domain error. Most errors reach writeError
// unwrapped (a 409 SEAT_TAKEN is most answers to holds in a rush), and errors.As
// would put its target on the heap for every one of them.
func asEngineError(err error) (*engine.Error, bool) {
	if e, ok := err.(*engine.Error); ok {
		return e, true
	}
	var e *engine.Error
	ok := errors.As(err, &e)
	return e, ok
}

// writeErrorBody writes {"code","message"} with the code's status.
func writeErrorBody(rc *fasthttp.RequestCtx, code engine.Code, message string) {
	status, ok := statusOf[code]
	if !ok {
		status = fasthttp.StatusInternalServerError
	}
	if status == fasthttp.StatusServiceUnavailable || status == fasthttp.StatusTooManyRequests {
		rc.Response.Header.Set("Retry-After", "1")
	}
	b := bufPool.get()
	b.b = append(b.b, `{"code":`...)
	b.b = appendString(b.b, string(code))
	b.b = append(b.b, `,"message":`...)
	b.b = appendString(b.b, message)
	b.b = append(b.b, '}')
	writeJSON(rc, status, b.b)
	bufPool.put(b)
}

func isBodyTooLarge(err error) bool { return errors.Is(err, fasthttp.ErrBodyTooLarge) }
