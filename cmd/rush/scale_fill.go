// Growing the queue: users created and entered, untimed, with a progress line.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// grow adds k waiting tokens: a new user each, created and entered at
// -fill-concurrency, with a progress line every 5 s.
func (s *scaleRun) grow(ctx context.Context, k int) error {
	base := len(s.tokens)
	uids := make([]int64, k)
	tokens := make([]string, k)
	var done atomic.Int64
	stopProgress := scaleProgress(fmt.Sprintf("fill %d -> %d", base, base+k), k, &done)
	defer stopProgress()
	err := forEach(ctx, k, s.cfg.fillConcurrency, func(ctx context.Context, i int) error {
		uid, err := s.createUser(ctx, s.fill, base+i)
		if err != nil {
			return err
		}
		tok, err := s.enterRetry(ctx, s.fill, uid)
		if err != nil {
			return err
		}
		uids[i], tokens[i] = uid, tok
		done.Add(1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	s.uids = append(s.uids, uids...)
	s.tokens = append(s.tokens, tokens...)
	return nil
}

// scaleProgress prints what/done/total and the rate every 5 s until the returned func is called.
func scaleProgress(what string, total int, done *atomic.Int64) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				fmt.Fprintf(os.Stderr, "rush scale: %s: %d/%d, %.0f/s\n", what, d, total, rate(d, time.Since(start)))
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// scaleRetryable is a failure worth repeating during the untimed fill: no answer, or a 5xx.
func scaleRetryable(a answer, err error) bool {
	return errors.Is(err, errTransport) || (err == nil && a.Status >= 500)
}

// createUser registers user i; a retry uses a new email, since the failed attempt
// may have created the user after all.
func (s *scaleRun) createUser(ctx context.Context, cl *client, i int) (int64, error) {
	for attempt := 0; ; attempt++ {
		v, a, err := callAnswer[struct {
			UserID  int64  `json:"userId"`
			UserKey string `json:"userKey"`
		}](ctx, cl, call{endpoint: "POST /api/users", method: "POST", path: "/api/users",
			body: map[string]string{"name": fmt.Sprintf("scale %d", i), "email": fmt.Sprintf("scale-%d-%d-%d@bench.invalid", s.stamp, i, attempt)}})
		if scaleRetryable(a, err) && attempt < 5 {
			if err := sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := a.decode(nil); err != nil {
			return 0, fmt.Errorf("create user: %w", err)
		}
		userKeys.Store(v.UserID, v.UserKey)
		return v.UserID, nil
	}
}

// enterRetry issues uid's token, retrying transport errors and 5xx (a retry gets
// the same token back), and insists on a WAITING answer.
func (s *scaleRun) enterRetry(ctx context.Context, cl *client, uid int64) (string, error) {
	for attempt := 0; ; attempt++ {
		v, a, err := s.enterOnce(ctx, cl, uid)
		if scaleRetryable(a, err) && attempt < 5 {
			if err := sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond); err != nil {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if err := a.decode(nil); err != nil {
			return "", fmt.Errorf("enter: %w", err)
		}
		if v.Status != "WAITING" || v.UserToken == "" {
			return "", fmt.Errorf("enter: user %d got %s, want WAITING", uid, v.Status)
		}
		return v.UserToken, nil
	}
}

func (s *scaleRun) enterOnce(ctx context.Context, cl *client, uid int64) (queueStatus, answer, error) {
	return callAnswer[queueStatus](ctx, cl, call{endpoint: "POST /api/users/token", method: "POST", path: "/api/users/token",
		token: userKey(uid), body: map[string]int64{"concertId": s.concertID}})
}

// pause stops admission on the concert (PATCH .../queue {"paused": true}).
func (s *scaleRun) pause(ctx context.Context) error {
	v, err := callJSON[struct {
		Paused bool `json:"paused"`
	}](ctx, s.fill, call{endpoint: "PATCH /api/admin/concerts/{id}/queue", method: "PATCH",
		path: "/api/admin/concerts/" + strconv.FormatInt(s.concertID, 10) + "/queue", admin: true,
		body: map[string]bool{"paused": true}}, "pause queue")
	if err != nil {
		return err
	}
	if !v.Paused {
		return fmt.Errorf("pause queue: the answer says paused=false")
	}
	return nil
}
