// Package rushtest drives whole concertd servers from the outside, the way a
// crowd and an auditor would: the one rush loop (Sale) and the one invariant
// checker (Sale.Check, over the API and the ledger), a client of the raw HTTP
// answers for tests, and a cuttable TCP proxy for taking a dependency away. The
// load driver cmd/rush runs the same Sale; cmd/concertd's in-process tests (Main
// on port 0) and test/soak's (the built binary as real processes, one killed
// with SIGKILL) run it with a fault injected. Every request goes through the
// client/ package.
package rushtest

import (
	"context"
	"time"
)

// Rush runs a whole sale through the client's instances for a test: it creates
// the concert and the buyers, lets them all in at once, and returns the sale
// when every buyer is done, with an error if any failed other than by losing a
// race. Each buyer charges once admitted, polls every 50 ms unless cfg.PollCap
// says otherwise, and retries elsewhere what an instance did not answer. Check
// the result with Sale.Check.
func (c *Client) Rush(ctx context.Context, cfg Config) (*Sale, error) {
	if cfg.PollCap == 0 {
		cfg.PollCap = 50 * time.Millisecond
	}
	s := &Sale{Config: cfg, Queue: c.API}
	if err := s.Prepare(ctx); err != nil {
		return s, err
	}
	s.Run(ctx)
	return s, s.Err()
}
