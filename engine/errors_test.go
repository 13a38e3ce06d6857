package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestErrorIsComparesCodes: errors.Is matches an engine error to its sentinel by
// code, through wrapping and whatever the message, and to nothing else.
func TestErrorIsComparesCodes(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"the sentinel", ErrSeatTaken, ErrSeatTaken, true},
		{"same code, own message", Errorf(CodeSeatTaken, "seat %d is held", 7), ErrSeatTaken, true},
		{"wrapped", fmt.Errorf("hold: %w", Errorf(CodeSeatTaken, "seat 7 is sold")), ErrSeatTaken, true},
		{"another code", Errorf(CodeHoldLimitReached, "at most 4"), ErrSeatTaken, false},
		{"not an engine error", context.DeadlineExceeded, ErrUnavailable, false},
		{"an engine error against a plain one", ErrUnavailable, context.DeadlineExceeded, false},
		{"nil target", ErrSeatTaken, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, tc.target); got != tc.want {
				t.Fatalf("errors.Is(%v, %v) = %v, want %v", tc.err, tc.target, got, tc.want)
			}
		})
	}
}
