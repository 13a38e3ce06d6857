package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/redisstore"
)

// countingLedger counts the user lookups an engine makes.
type countingLedger struct {
	engine.Users
	exists, above atomic.Int64
}

func (l *countingLedger) UserExists(ctx context.Context, id int64) (bool, error) {
	l.exists.Add(1)
	return l.Users.UserExists(ctx, id)
}

func (l *countingLedger) UserIDsAbove(ctx context.Context, after int64, limit int) ([]int64, error) {
	l.above.Add(1)
	return l.Users.UserIDsAbove(ctx, after, limit)
}

// TestTokenRushReadsUsersInBulk: an instance that has never seen a crowd's users
// learns them in a bulk read or two, not one ledger query per first token request;
// unknown ids are still refused, and a user created elsewhere a moment ago is found.
func TestTokenRushReadsUsersInBulk(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{})
		ids := v.users(300) // created through v.e: the instance below never saw them
		l := &countingLedger{Users: v.ledger}
		st := redisstore.New(v.rdb, v.prefix, v.ledger).Roles(v.ledger)
		st.Users = l
		fresh := engine.New(v.cfg, v.clk, st)
		parallel(t, len(ids), 32, func(i int) error {
			_, err := fresh.IssueToken(v.ctx, ids[i], c.ID)
			return err
		})
		if n := l.above.Load(); n < 1 || n > 3 {
			t.Errorf("%d bulk reads for 300 first token requests, want 1 to 3", n)
		}
		if n := l.exists.Load(); n != 0 {
			t.Errorf("%d single-user lookups, want none", n)
		}
		if _, err := fresh.IssueToken(v.ctx, ids[len(ids)-1]+1_000_000, c.ID); !errors.Is(err, engine.ErrUserNotFound) {
			t.Fatalf("unknown user: %v, want USER_NOT_FOUND", err)
		}
		late := v.users(1)[0] // another instance's new user, right after the bulk read
		if _, err := fresh.IssueToken(v.ctx, late, c.ID); err != nil {
			t.Fatalf("user created elsewhere: %v", err)
		}
	})
}

// TestWarmUsersBeforeTheRush: an instance that learnt its users at start answers
// their first token requests without asking the ledger again.
func TestWarmUsersBeforeTheRush(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{})
		ids := v.users(300)
		l := &countingLedger{Users: v.ledger}
		st := redisstore.New(v.rdb, v.prefix, v.ledger).Roles(v.ledger)
		st.Users = l
		fresh := engine.New(v.cfg, v.clk, st)
		if err := fresh.WarmUsers(v.ctx); err != nil {
			t.Fatal(err)
		}
		warm := l.above.Load()
		if warm < 1 {
			t.Fatalf("WarmUsers read no users")
		}
		parallel(t, len(ids), 32, func(i int) error {
			_, err := fresh.IssueToken(v.ctx, ids[i], c.ID)
			return err
		})
		if n := l.above.Load() - warm; n != 0 {
			t.Errorf("%d bulk reads after warming, want none", n)
		}
		if n := l.exists.Load(); n != 0 {
			t.Errorf("%d single-user lookups, want none", n)
		}
	})
}
