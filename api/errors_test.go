package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// writeError is the one place an error becomes an answer: each case is an error as
// a handler may return it, bare or wrapped, and the status and code it must give.
func TestWriteError(t *testing.T) {
	s := &Server{log: zerolog.Nop(), outageLog: zerolog.Nop()}
	cases := []struct {
		name   string
		err    error
		status int
		code   engine.Code
	}{
		{"domain error, bare", engine.ErrSeatTaken, 409, engine.CodeSeatTaken},
		{"domain error, wrapped", fmt.Errorf("hold seat 3: %w", engine.ErrSeatTaken), 409, engine.CodeSeatTaken},
		{"domain error, wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", engine.ErrHoldLimitReached)), 409, engine.CodeHoldLimitReached},
		{"not admitted", engine.ErrNotAdmitted, 403, engine.CodeNotAdmitted},
		{"unavailable, wrapped", fmt.Errorf("redis: %w", engine.ErrUnavailable), 503, engine.CodeUnavailable},
		{"a deadline", fmt.Errorf("ledger: %w", context.DeadlineExceeded), 503, engine.CodeUnavailable},
		{"a code outside the contract", engine.Errorf("NOT_A_CODE", "x"), 500, engine.CodeInternal},
		{"anything else", errors.New("boom"), 500, engine.CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rc fasthttp.RequestCtx
			s.writeError(&rc, tc.err)
			body := string(rc.Response.Body())
			if rc.Response.StatusCode() != tc.status || !strings.Contains(body, `"code":"`+string(tc.code)+`"`) {
				t.Fatalf("%d %s, want %d with code %s", rc.Response.StatusCode(), body, tc.status, tc.code)
			}
		})
	}
}
