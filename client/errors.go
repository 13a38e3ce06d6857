package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an answer that is not a success: its HTTP status, the contract's
// code ("SEAT_TAKEN", "TOKEN_EXPIRED", ...) and message, and for 429 and 503 how
// long the server asked to wait. Use errors.As to reach it, or IsCode.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("concertd: %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("concertd: %d %s: %s", e.Status, e.Code, e.Message)
}

// IsCode reports whether err is an answer with the contract's code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// StatusOf returns the HTTP status of an error answer, or 0 when err is not one
// (no answer at all, or nil).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// CodeOf returns the contract's code of an error answer, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// decodeError reads an error answer. A body that is not the contract's error
// object (a proxy's HTML page, say) still gives an Error: its code is the status
// number and its message the start of the body.
func decodeError(status int, h http.Header, body []byte) *Error {
	e := &Error{Status: status}
	var v struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil && v.Code != "" {
		e.Code, e.Message = v.Code, v.Message
	} else {
		e.Code = strconv.Itoa(status)
		e.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	if d, ok := retryAfter(h); ok {
		e.RetryAfter = d
	}
	return e
}

// errorCode is decodeError's code alone.
func errorCode(status int, body []byte) string { return decodeError(status, nil, body).Code }

// retryAfter reads Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}
