package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/ledgertest"
	"github.com/concertd/concertd/store/redisstore"
)

// 20 attempts to pay one reservation at once, each within a request's timeout: one
// 201, and every other attempt waits for it and hears ALREADY_PAID, although the
// winner made the token DONE. Later attempts hear the same; the money moved once.
func TestPayTwiceAlreadyPaid(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		r := v.hold(tok, ss[0].ID, 7) // the only hold: the token is DONE once it is paid
		wantOnePaid(t, 20, func(ctx context.Context, _ int) error {
			_, err := v.e.Pay(ctx, tok, r.ID, r.Price, "")
			return err
		})
		if st, err := v.e.Status(v.ctx, tok); err != nil || st.State != engine.TokenDone {
			t.Fatalf("token %+v, %v; want DONE", st, err)
		}
		for _, e := range []*engine.Engine{v.e, v.another()} {
			if _, err := e.Pay(v.ctx, tok, r.ID, r.Price, ""); !errors.Is(err, engine.ErrAlreadyPaid) {
				t.Fatalf("pay after DONE: %v, want ALREADY_PAID", err)
			}
		}
		b := v.balance(tok)
		if n, total := payments(b); b.Balance != 1_000_000-r.Price || n != 1 || total != r.Price {
			t.Fatalf("balance %d with %d payment rows of %d; want %d and one row of %d", b.Balance, n, total, 1_000_000-r.Price, r.Price)
		}
	})
}

// The shared state does not know a sale the ledger made (its PAYING window lapsed
// during an outage, or it lost the record): every refusal it would give is
// overruled by the ledger, and a paid reservation is ALREADY_PAID.
func TestPayAsksLedgerBeforeRefusing(t *testing.T) {
	cases := []struct {
		name  string
		after func(v *env, c engine.Concert, r engine.Reservation)
	}{
		{"hold expired", func(v *env, c engine.Concert, r engine.Reservation) {
			v.clk.Advance(6 * time.Minute) // past the hold's TTL; the token's lease covered it
		}},
		{"record lost", func(v *env, c engine.Concert, r engine.Reservation) {
			if err := v.rdb.Del(v.ctx, v.key(c.ID, "res:"+itoa64(r.ID))).Err(); err != nil {
				v.t.Fatal(err)
			}
		}},
		{"token gone", func(v *env, c engine.Concert, r engine.Reservation) {
			v.clk.Advance(time.Hour) // the lease ran out too
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
				c, ss := v.concert(show{})
				tok := v.buyer(c.ID, 1_000_000)
				r := v.hold(tok, ss[0].ID, 3)
				// The payment committed in the ledger; the shared state never heard.
				if _, err := v.ledger.Sell(v.ctx, engine.Sale{ReservationID: r.ID, ScheduleID: r.ScheduleID, Seat: r.Seat, UserID: tok.UserID, Amount: r.Price}, engine.Idempotency{}); err != nil {
					t.Fatal(err)
				}
				tc.after(v, c, r)
				if _, err := v.e.Pay(v.ctx, tok, r.ID, r.Price, ""); !errors.Is(err, engine.ErrAlreadyPaid) {
					t.Fatalf("pay: %v, want ALREADY_PAID", err)
				}
				if b := v.balance(tok); b.Balance != 1_000_000-r.Price {
					t.Fatalf("balance %d, want %d", b.Balance, 1_000_000-r.Price)
				}
			})
		})
	}
}

// lostReply is a ledger whose Sell does not answer: it commits (or not) and then
// says the database was unreachable, as a timeout or a dropped connection would.
type lostReply struct {
	ledgertest.Ledger
	engine.PaymentFence
	commit bool
}

func (l lostReply) Sell(ctx context.Context, s engine.Sale, idem engine.Idempotency) (engine.Sale, error) {
	if l.commit {
		if _, err := l.Ledger.Sell(ctx, s, idem); err != nil {
			return engine.Sale{}, err
		}
	}
	return engine.Sale{}, engine.Unavailable("test", errors.New("reply lost"))
}

// A payment whose reply was lost is settled before the answer: committed means
// 201 and the seat sold; not committed means a final 503, the hold back to
// PENDING, and the attempt that never reached the ledger can never commit later.
func TestPayUnknownOutcomeIsSettled(t *testing.T) {
	eachOutcome(t, func(t *testing.T, v *env, commit bool) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		r := v.hold(tok, ss[0].ID, 5)
		v.hold(tok, ss[0].ID, 6) // keeps the token ACTIVE after a sale
		l := lostReply{v.ledger, v.ledger.(engine.PaymentFence), commit}
		s := redisstore.New(v.rdb, v.prefix, l)
		e := engine.New(v.cfg, v.clk, stores(l, s))
		sale, err := e.Pay(v.ctx, tok, r.ID, r.Price, "")
		if commit {
			if err != nil || sale.ReservationID != r.ID || sale.Balance != 1_000_000-r.Price {
				t.Fatalf("pay = %+v, %v; want the committed sale", sale, err)
			}
			if got := v.reservation(tok, r.ID); got.State != engine.ReservationPaid {
				t.Fatalf("reservation %s, want PAID", got.State)
			}
			return
		}
		if !errors.Is(err, engine.ErrUnavailable) {
			t.Fatalf("pay: %v, want UNAVAILABLE", err)
		}
		if got := v.reservation(tok, r.ID); got.State != engine.ReservationPending {
			t.Fatalf("reservation %s after a final 503, want PENDING", got.State)
		}
		if b := v.balance(tok); b.Balance != 1_000_000 {
			t.Fatalf("balance %d after a final 503, want 1000000", b.Balance)
		}
		v.pay(tok, r) // the user's next attempt pays
		if b := v.balance(tok); b.Balance != 1_000_000-r.Price {
			t.Fatalf("balance %d, want %d", b.Balance, 1_000_000-r.Price)
		}
	})
}
