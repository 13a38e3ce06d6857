package engine

import "fmt"

// Code is one of the contract's error codes (docs/API.md "Error codes").
// The HTTP layer maps each Code to a status in exactly one table.
type Code string

// The contract's codes. Nothing else may reach a client.
const (
	CodeBadRequest           Code = "BAD_REQUEST"
	CodeInvalidAmount        Code = "INVALID_AMOUNT"
	CodeInvalidSeat          Code = "INVALID_SEAT"
	CodeAmountMismatch       Code = "AMOUNT_MISMATCH"
	CodeTokenMissing         Code = "TOKEN_MISSING"
	CodeTokenInvalid         Code = "TOKEN_INVALID"
	CodeTokenExpired         Code = "TOKEN_EXPIRED"
	CodeInsufficientBalance  Code = "INSUFFICIENT_BALANCE"
	CodeNotAdmitted          Code = "NOT_ADMITTED"
	CodeWrongConcert         Code = "WRONG_CONCERT"
	CodeAdminOnly            Code = "ADMIN_ONLY"
	CodeProofRequired        Code = "PROOF_REQUIRED"
	CodeProofInvalid         Code = "PROOF_INVALID"
	CodeNotInvited           Code = "NOT_INVITED"
	CodeNotFound             Code = "NOT_FOUND"
	CodeUserNotFound         Code = "USER_NOT_FOUND"
	CodeConcertNotFound      Code = "CONCERT_NOT_FOUND"
	CodeScheduleNotFound     Code = "SCHEDULE_NOT_FOUND"
	CodeReservationNotFound  Code = "RESERVATION_NOT_FOUND"
	CodeMethodNotAllowed     Code = "METHOD_NOT_ALLOWED"
	CodeSeatTaken            Code = "SEAT_TAKEN"
	CodeHoldLimitReached     Code = "HOLD_LIMIT_REACHED"
	CodeSeatsUnavailable     Code = "SEATS_UNAVAILABLE"
	CodeTicketLimitReached   Code = "TICKET_LIMIT_REACHED"
	CodeAlreadyPaid          Code = "ALREADY_PAID"
	CodeEmailTaken           Code = "EMAIL_TAKEN"
	CodeIdempotencyKeyReused Code = "IDEMPOTENCY_KEY_REUSED"
	CodeReservationExpired   Code = "RESERVATION_EXPIRED"
	CodeSaleClosed           Code = "SALE_CLOSED"
	CodeBodyTooLarge         Code = "BODY_TOO_LARGE"
	CodeRateLimited          Code = "RATE_LIMITED"
	CodeUnavailable          Code = "UNAVAILABLE"
	CodeInternal             Code = "INTERNAL"
)

// Error is the engine's one error type: a contract code and a sentence for a person.
// Two Errors match under errors.Is when their codes match, so callers test
// errors.Is(err, engine.ErrSeatTaken) whatever the message says.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is makes errors.Is compare codes, not pointers or messages. The target is the
// sentinel itself, never a wrapped error, so a type assertion does, and costs less
// than errors.As on the refusals that make most answers under a hold rush.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf builds an Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for the codes the engine and its stores decide on.
var (
	ErrBadRequest           = &Error{CodeBadRequest, "malformed request"}
	ErrInvalidAmount        = &Error{CodeInvalidAmount, "amount is out of range"}
	ErrInvalidSeat          = &Error{CodeInvalidSeat, "no such seat in this schedule"}
	ErrAmountMismatch       = &Error{CodeAmountMismatch, "payment amount differs from the seat's price"}
	ErrTokenMissing         = &Error{CodeTokenMissing, "a bearer token is required"}
	ErrTokenInvalid         = &Error{CodeTokenInvalid, "token is not valid"}
	ErrTokenExpired         = &Error{CodeTokenExpired, "token has expired"}
	ErrInsufficientBalance  = &Error{CodeInsufficientBalance, "balance is too low"}
	ErrNotAdmitted          = &Error{CodeNotAdmitted, "token is still waiting in the queue"}
	ErrWrongConcert         = &Error{CodeWrongConcert, "token is for another concert"}
	ErrAdminOnly            = &Error{CodeAdminOnly, "operator key required"}
	ErrProofRequired        = &Error{CodeProofRequired, "this concert's waiting room needs a proof of work; get a challenge from GET /api/queue/challenge"}
	ErrProofInvalid         = &Error{CodeProofInvalid, "the proof of work is wrong, expired, for another concert or already used"}
	ErrNotInvited           = &Error{CodeNotInvited, "the presale needs a valid presale code"}
	ErrUserNotFound         = &Error{CodeUserNotFound, "no such user"}
	ErrConcertNotFound      = &Error{CodeConcertNotFound, "no such concert"}
	ErrScheduleNotFound     = &Error{CodeScheduleNotFound, "no such schedule"}
	ErrReservationNotFound  = &Error{CodeReservationNotFound, "no such reservation"}
	ErrSeatTaken            = &Error{CodeSeatTaken, "seat is held or sold"}
	ErrHoldLimitReached     = &Error{CodeHoldLimitReached, "hold limit reached for this concert"}
	ErrSeatsUnavailable     = &Error{CodeSeatsUnavailable, "no run of that many seats side by side is left"}
	ErrTicketLimitReached   = &Error{CodeTicketLimitReached, "seats held plus seats bought would pass the concert's ticket limit"}
	ErrAlreadyPaid          = &Error{CodeAlreadyPaid, "reservation is already paid"}
	ErrEmailTaken           = &Error{CodeEmailTaken, "email is already registered"}
	ErrIdempotencyKeyReused = &Error{CodeIdempotencyKeyReused, "idempotency key was used with another request"}
	ErrReservationExpired   = &Error{CodeReservationExpired, "reservation has expired"}
	ErrSaleClosed           = &Error{CodeSaleClosed, "the sale of this concert has ended"}
	ErrUnavailable          = &Error{CodeUnavailable, "a dependency is unavailable"}
	// ErrPaymentInProgress answers a payment attempt that waited for an earlier
	// attempt's outcome until its own request ran out of time: nothing was charged
	// by this attempt and nothing will be (503 with Retry-After). No dependency is
	// down, so it is not logged as an outage.
	ErrPaymentInProgress = &Error{CodeUnavailable, "an earlier attempt of this payment is still in progress; nothing was charged by this one; ask again shortly"}
)

// Unavailable wraps a dependency failure so it maps to 503 UNAVAILABLE while the
// cause stays in the chain for logs. Stores call it at their boundary.
func Unavailable(what string, cause error) error {
	return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, cause)
}
