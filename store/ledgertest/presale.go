package ledgertest

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

func codeHash(s string) engine.CodeHash { return sha256.Sum256([]byte(s)) }

func testPresale(t *testing.T, l Ledger) {
	p := role[engine.PresaleLedger](t, l)
	f := newFixture(t, l)
	sch := f.schedule(10, 100)
	other := f.schedule(10, 100)
	c := sch.ConcertID
	until := time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)

	if u, err := p.PresaleUntil(f.ctx, c); err != nil || !u.IsZero() {
		t.Fatalf("no presale yet: PresaleUntil = %v, %v", u, err)
	}
	if ok, err := p.EnterPresale(f.ctx, c, 1, nil); err != nil || ok {
		t.Fatalf("no presale: EnterPresale = %v, %v", ok, err)
	}
	if err := p.AddPresaleCodes(f.ctx, other.ConcertID+100, []engine.CodeHash{codeHash("x")}, until); !errors.Is(err, engine.ErrConcertNotFound) {
		t.Fatalf("unknown concert: %v, want CONCERT_NOT_FOUND", err)
	}
	a, b, x := codeHash("A"), codeHash("B"), codeHash("X")
	if err := p.AddPresaleCodes(f.ctx, c, []engine.CodeHash{a, b}, until); err != nil {
		t.Fatal(err)
	}
	if u, err := p.PresaleUntil(f.ctx, c); err != nil || !u.Equal(until) {
		t.Fatalf("PresaleUntil = %v, %v; want %v", u, err, until)
	}
	if u, _ := p.PresaleUntil(f.ctx, other.ConcertID); !u.IsZero() {
		t.Fatalf("another concert got a presale: %v", u)
	}
	u1, u2, u3 := f.user(0), f.user(0), f.user(0)
	steps := []struct {
		name string
		c    int64
		user int64
		code *engine.CodeHash
		want bool
	}{
		{"no code", c, u1, nil, false},
		{"unknown code", c, u1, &x, false},
		{"code of another concert", other.ConcertID, u1, &a, false},
		{"first use binds", c, u1, &a, true},
		{"owner again, no code", c, u1, nil, true},
		{"owner again, same code", c, u1, &a, true},
		{"another user, bound code", c, u2, &a, false},
		{"another user, free code", c, u2, &b, true},
		{"bound user brings a free code: it stays free", c, u1, &b, true},
		{"third user, both codes bound", c, u3, &b, false},
	}
	for _, st := range steps {
		ok, err := p.EnterPresale(f.ctx, st.c, st.user, st.code)
		if err != nil || ok != st.want {
			t.Fatalf("%s: EnterPresale = %v, %v; want %v", st.name, ok, err, st.want)
		}
	}
	// More codes and a later end; the bound ones stay bound.
	later := until.Add(24 * time.Hour)
	if err := p.AddPresaleCodes(f.ctx, c, []engine.CodeHash{x, a}, later); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.PresaleUntil(f.ctx, c); !u.Equal(later) {
		t.Fatalf("until not moved: %v", u)
	}
	if ok, _ := p.EnterPresale(f.ctx, c, u3, &a); ok {
		t.Fatal("adding a bound code again freed it")
	}
	if ok, _ := p.EnterPresale(f.ctx, c, u3, &x); !ok {
		t.Fatal("a code added later does not work")
	}
}

// testPresaleCodeRace: 20 users racing for one code, at once: exactly one gets it,
// and afterwards it is theirs alone.
func testPresaleCodeRace(t *testing.T, l Ledger) {
	p := role[engine.PresaleLedger](t, l)
	f := newFixture(t, l)
	c := f.schedule(10, 100).ConcertID
	code := codeHash("RACE")
	if err := p.AddPresaleCodes(f.ctx, c, []engine.CodeHash{code}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	const n = 20
	users := make([]int64, n)
	for i := range users {
		users[i] = f.user(0)
	}
	won := make([]bool, n)
	errs := AtOnce(n, func(i int) error {
		ok, err := p.EnterPresale(f.ctx, c, users[i], &code)
		won[i] = ok
		return err
	})
	Count(t, errs)
	winner := -1
	for i, ok := range won {
		if ok {
			if winner >= 0 {
				t.Fatalf("users %d and %d both got the code", users[winner], users[i])
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("nobody got the code")
	}
	for i, u := range users {
		ok, err := p.EnterPresale(f.ctx, c, u, nil)
		if err != nil || ok != (i == winner) {
			t.Errorf("user %d afterwards: %v, %v (winner %d)", u, ok, err, users[winner])
		}
	}
}
