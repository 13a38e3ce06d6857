package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/store/memstore"
	"github.com/concertd/concertd/store/redisstore"
	"github.com/concertd/concertd/store/storetest"
)

// externalCountingLedger records what reaches the ledger's ExternalUser.
type externalCountingLedger struct {
	*memstore.Store
	calls atomic.Int64
	mu    sync.Mutex
	seen  []engine.ExternalIdentity
}

func (l *externalCountingLedger) ExternalUser(ctx context.Context, u engine.ExternalIdentity) (int64, bool, error) {
	l.calls.Add(1)
	l.mu.Lock()
	l.seen = append(l.seen, u)
	l.mu.Unlock()
	return l.Store.ExternalUser(ctx, u)
}

func countingEngine(t *testing.T) (*engine.Engine, *externalCountingLedger) {
	t.Helper()
	_, rdb := storetest.Miniredis(t)
	l := &externalCountingLedger{Store: memstore.New()}
	s := redisstore.New(rdb, "concertd", l)
	return engine.New(engine.Config{Secret: secret}, clock.NewSimulated(t0), s.Roles(l)), l
}

// TestExternalUserOneUserPerSub: a sub is one user across instances and racing
// requests, that user can enter a queue at once, and only the first request of a
// sub on an instance reaches the ledger.
func TestExternalUserOneUserPerSub(t *testing.T) {
	t.Parallel()
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{})
		engines := []*engine.Engine{v.e, v.another()}
		const n = 40
		ids := make([]int64, n)
		parallel(t, n, n, func(i int) error {
			var err error
			ids[i], err = engines[i%2].ExternalUser(v.ctx, engine.ExternalIdentity{Subject: "auth0|42", Name: "Ana"})
			return err
		})
		for _, id := range ids {
			if id != ids[0] || id <= 0 {
				t.Fatalf("one sub, users %v", ids)
			}
		}
		other, err := v.e.ExternalUser(v.ctx, engine.ExternalIdentity{Subject: "auth0|43"})
		if err != nil || other == ids[0] {
			t.Fatalf("another sub = %d, %v; want a user of its own", other, err)
		}
		for _, e := range engines {
			if _, err := e.IssueToken(v.ctx, ids[0], c.ID); err != nil {
				t.Errorf("the external user enters: %v", err)
			}
		}
	})
}

func TestExternalUserCache(t *testing.T) {
	t.Parallel()
	e, l := countingEngine(t)
	ctx := t.Context()
	const n = 50
	var wg sync.WaitGroup
	start := make(chan struct{})
	ids := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			<-start
			ids[i], _ = e.ExternalUser(ctx, engine.ExternalIdentity{Subject: "sub-1"})
		})
	}
	close(start)
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id <= 0 {
			t.Fatalf("ids %v", ids)
		}
	}
	if got := l.calls.Load(); got != 1 {
		t.Errorf("%d racing first requests made %d ledger calls, want 1", n, got)
	}
	for range 10 {
		if id, err := e.ExternalUser(ctx, engine.ExternalIdentity{Subject: "sub-1"}); err != nil || id != ids[0] {
			t.Fatalf("repeat = %d, %v", id, err)
		}
	}
	if got := l.calls.Load(); got != 1 {
		t.Errorf("repeat requests reached the ledger: %d calls", got)
	}
	// A second instance has its own cache and finds the same user.
	_, rdb := storetest.Miniredis(t)
	s := redisstore.New(rdb, "concertd", l)
	e2 := engine.New(engine.Config{Secret: secret}, clock.NewSimulated(t0), s.Roles(l))
	if id, err := e2.ExternalUser(ctx, engine.ExternalIdentity{Subject: "sub-1"}); err != nil || id != ids[0] {
		t.Errorf("second instance = %d, %v; want %d", id, err, ids[0])
	}
}

// TestExternalUserInput: a sub the ledger could not keep is TOKEN_INVALID and
// reaches nothing; a profile that breaks the name or email rule is tidied, never
// refused, since a sign-in must not fail over a display name.
func TestExternalUserInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("가", engine.MaxNameLength+5)
	tests := []struct {
		name      string
		in        engine.ExternalIdentity
		wantErr   bool
		wantName  string
		wantEmail string
	}{
		{name: "plain", in: engine.ExternalIdentity{Subject: "u1", Name: " Kim ", Email: " Kim@Example.com "}, wantName: "Kim", wantEmail: "kim@example.com"},
		{name: "no profile", in: engine.ExternalIdentity{Subject: "u2"}},
		{name: "longest sub", in: engine.ExternalIdentity{Subject: strings.Repeat("s", engine.MaxSubjectLength)}},
		{name: "control characters in name", in: engine.ExternalIdentity{Subject: "u3", Name: "Ki\x00m\n\u0085"}, wantName: "Kim"},
		{name: "invalid UTF-8 in name", in: engine.ExternalIdentity{Subject: "u4", Name: "K\xffim"}, wantName: "Kim"},
		{name: "long name", in: engine.ExternalIdentity{Subject: "u5", Name: long}, wantName: long[:3*engine.MaxNameLength]},
		{name: "not an email", in: engine.ExternalIdentity{Subject: "u6", Email: "Kim <kim@example.com>"}},
		{name: "email too long", in: engine.ExternalIdentity{Subject: "u7", Email: strings.Repeat("a", 250) + "@example.com"}},
		{name: "empty sub", in: engine.ExternalIdentity{}, wantErr: true},
		{name: "sub too long", in: engine.ExternalIdentity{Subject: strings.Repeat("s", engine.MaxSubjectLength+1)}, wantErr: true},
		{name: "NUL in sub", in: engine.ExternalIdentity{Subject: "u\x00"}, wantErr: true},
		{name: "newline in sub", in: engine.ExternalIdentity{Subject: "u\n1"}, wantErr: true},
		{name: "invalid UTF-8 sub", in: engine.ExternalIdentity{Subject: "u\xff"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, l := countingEngine(t)
			id, err := e.ExternalUser(t.Context(), tc.in)
			if tc.wantErr {
				if !errors.Is(err, engine.ErrTokenInvalid) || l.calls.Load() != 0 {
					t.Errorf("= %d, %v after %d ledger calls; want TOKEN_INVALID and none", id, err, l.calls.Load())
				}
				return
			}
			if err != nil || id <= 0 || len(l.seen) != 1 {
				t.Fatalf("= %d, %v, %d ledger calls", id, err, len(l.seen))
			}
			got := l.seen[0]
			if got.Subject != tc.in.Subject || got.Name != tc.wantName || got.Email != tc.wantEmail {
				t.Errorf("ledger got %+v; want name %q, email %q", got, tc.wantName, tc.wantEmail)
			}
		})
	}
}
