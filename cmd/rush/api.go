package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	concertd "github.com/concertd/concertd/client"
	"github.com/concertd/concertd/test/rushtest"
)

// The few shapes and calls the scale run uses, over the client/ package.

type queueStatus = concertd.QueueStatus

type queueSettings = concertd.QueueSettings

type schedule = concertd.NewSchedule

type stats = concertd.Stats

func (cl *client) createConcert(ctx context.Context, title string, q queueSettings, schedules ...schedule) (int64, []int64, error) {
	c, err := cl.api.CreateConcert(ctx, concertd.NewConcert{Title: title, Description: "created by cmd/rush", Queue: &q, Schedules: schedules})
	return c.ConcertID, c.ScheduleIDs, err
}

func (cl *client) concertStats(ctx context.Context, concertID int64) (stats, error) {
	return cl.api.Stats(ctx, concertID)
}

// status polls a token: its answer, and the raw status and code of a refusal.
func (cl *client) status(ctx context.Context, token string) (queueStatus, answer, error) {
	q, err := cl.api.QueueStatus(ctx, token)
	return q, answerOf(err), transportErr(err)
}

// answerOf is the status and code of a call's outcome (200 for success).
func answerOf(err error) answer {
	if err == nil {
		return answer{Status: 200}
	}
	return answer{Status: concertd.StatusOf(err), Code: concertd.CodeOf(err)}
}

// transportErr is err when the call got no answer (wrapping errTransport), nil otherwise.
func transportErr(err error) error {
	if err == nil || concertd.StatusOf(err) != 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", errTransport, err)
}

// waitActive polls a token's status until it is ACTIVE, sleeping what the server
// asks (pollAfterSeconds) but at most pollCap, for at most `within`.
func (cl *client) waitActive(ctx context.Context, token string, pollCap, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	return rushtest.WaitActive(ctx, cl.api, token, pollCap, 50*time.Millisecond)
}

// newcomer creates a user and enters it into a concert's line with its key (and
// its id, for servers that predate keys).
func (cl *client) newcomer(ctx context.Context, concertID int64, name, email string) (queueStatus, error) {
	u, err := cl.api.CreateUser(ctx, concertd.CreateUserRequest{Name: name, Email: email})
	if err != nil {
		return queueStatus{}, err
	}
	return cl.api.EnterQueue(ctx, u.UserKey, concertd.EnterRequest{ConcertID: concertID, UserID: u.UserID})
}

// userKeys holds the key POST /api/users answered for each user this run created
// outside the typed client's flows (rush setup and rush scale).
var userKeys sync.Map

// userKey is the key of a user this run created ("" for any other: refused).
func userKey(userID int64) string {
	k, _ := userKeys.Load(userID)
	s, _ := k.(string)
	return s
}
