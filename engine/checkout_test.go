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

// 50 payments of one reservation at once: one sale, the money taken once.
func TestPayConcurrentOnce(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		r := v.hold(tok, ss[0].ID, 7)
		v.hold(tok, ss[0].ID, 8) // a second live hold keeps the token ACTIVE after the sale
		// Refused with ALREADY_PAID once the winner's outcome was known.
		won, paid := race(t, 50, engine.ErrAlreadyPaid, func(int) error {
			_, err := v.e.Pay(v.ctx, tok, r.ID, r.Price, "")
			return err
		})
		if won != 1 || paid != 49 {
			t.Fatalf("%d paid, %d refused; want 1 and 49", won, paid)
		}
		b := v.balance(tok)
		if n, total := payments(b); b.Balance != 1_000_000-r.Price || n != 1 || total != r.Price {
			t.Fatalf("balance %d with %d payment rows of %d; want %d and one row of %d", b.Balance, n, total, 1_000_000-r.Price, r.Price)
		}
		if got := v.reservation(tok, r.ID); got.State != engine.ReservationPaid {
			t.Fatalf("reservation %s, want PAID", got.State)
		}
		if st := v.stats(c.ID); st.Sold != 1 || st.Held != 1 {
			t.Fatalf("stats sold=%d held=%d, want 1 and 1", st.Sold, st.Held)
		}
	})
}

// Money for one seat, two seats paid at once: one sale, the other hold is back
// to pending and can still be paid once the money is there.
func TestPayTwoWithMoneyForOne(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.admitted(1, c.ID)[0]
		rs := v.holds(tok, ss[0].ID, 1, 2)
		v.charge(tok, rs[0].Price)
		errs := ledgertest.AtOnce(len(rs), func(i int) error {
			_, err := v.e.Pay(v.ctx, tok, rs[i].ID, rs[i].Price, "")
			return err
		})
		winner, loser := 0, 1
		if errs[0] != nil {
			winner, loser = 1, 0
		}
		if errs[winner] != nil || !errors.Is(errs[loser], engine.ErrInsufficientBalance) {
			t.Fatalf("pay errors %v; want one success and one INSUFFICIENT_BALANCE", errs)
		}
		if b := v.balance(tok); b.Balance != 0 {
			t.Fatalf("balance %d, want 0", b.Balance)
		}
		if got := v.reservation(tok, rs[loser].ID); got.State != engine.ReservationPending {
			t.Fatalf("unpaid reservation reads %s, want PENDING", got.State)
		}
		m := v.seatMap(v.e, tok, ss[0].ID)
		if m.Seats[rs[winner].Seat-1] != engine.SeatReserved || m.Seats[rs[loser].Seat-1] != engine.SeatPending {
			t.Fatalf("paid seat %s, unpaid seat %s", m.Seats[rs[winner].Seat-1], m.Seats[rs[loser].Seat-1])
		}
		v.charge(tok, rs[loser].Price)
		v.pay(tok, rs[loser])
	})
}

// A refused payment changes nothing: no money moves and the hold stays as it was.
func TestPayRefused(t *testing.T) {
	const ttl = time.Minute
	cases := []struct {
		name       string
		prepare    func(v *env, r engine.Reservation) (amount int64)
		want       error
		stillValid bool // the hold can be paid properly afterwards
	}{
		{"amount too high", func(v *env, r engine.Reservation) int64 { return r.Price + 1 }, engine.ErrAmountMismatch, true},
		{"amount too low", func(v *env, r engine.Reservation) int64 { return r.Price - 1 }, engine.ErrAmountMismatch, true},
		{"amount zero", func(v *env, r engine.Reservation) int64 { return 0 }, engine.ErrAmountMismatch, true},
		{"hold expired", func(v *env, r engine.Reservation) int64 {
			v.clk.Set(r.ExpiresAt.Add(time.Millisecond))
			return r.Price
		}, engine.ErrReservationExpired, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, engine.Config{HoldTTL: ttl}, func(t *testing.T, v *env) {
				c, ss := v.concert(show{})
				tok := v.buyer(c.ID, 200_000)
				r := v.hold(tok, ss[0].ID, 3)
				_, err := v.e.Pay(v.ctx, tok, r.ID, tc.prepare(v, r), "")
				wantErr(t, err, tc.want)
				b := v.balance(tok)
				if n, _ := payments(b); b.Balance != 200_000 || n != 0 {
					t.Fatalf("balance %d with %d payments after a refused payment", b.Balance, n)
				}
				if st := v.stats(c.ID); st.Sold != 0 {
					t.Fatalf("%d sold after a refused payment", st.Sold)
				}
				got := v.reservation(tok, r.ID)
				if !tc.stillValid {
					if got.State != engine.ReservationExpired {
						t.Fatalf("reservation %s, want EXPIRED", got.State)
					}
					return
				}
				if got.State != engine.ReservationPending {
					t.Fatalf("reservation %s, want PENDING", got.State)
				}
				v.pay(tok, r)
			})
		})
	}
}

// Paying the only hold ends the token: it is DONE and may hold nothing more.
func TestPayLastHoldMakesTokenDone(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 100_000)
		r := v.hold(tok, ss[0].ID, 9)
		if s, err := v.e.Status(v.ctx, tok); err != nil || s.State != engine.TokenActive {
			t.Fatalf("before paying: %+v %v, want ACTIVE", s, err)
		}
		sale := v.pay(tok, r)
		if sale.Amount != r.Price || sale.Balance != 100_000-r.Price || sale.ReservationID != r.ID || sale.Seat != 9 {
			t.Fatalf("sale %+v", sale)
		}
		if s, err := v.e.Status(v.ctx, tok); err != nil || s.State != engine.TokenDone {
			t.Fatalf("after paying: %+v %v, want DONE", s, err)
		}
		_, _, err := v.e.Hold(v.ctx, tok, ss[0].ID, 10)
		wantErr(t, err, engine.ErrTokenExpired)
		if st := v.stats(c.ID); st.Sold != 1 || st.Held != 0 || st.Active != 0 {
			t.Fatalf("stats %+v, want one sold, nothing held or active", st)
		}
	})
}

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
		e := engine.New(v.cfg, v.clk, s.Roles(l))
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

// payMany pays the holds with the sum of their prices and fails the test on error.
func (v *env) payMany(t engine.Token, rs ...engine.Reservation) []engine.Sale {
	v.t.Helper()
	sales, err := v.e.PayMany(v.ctx, t, ids(rs), sum(rs), "")
	if err != nil {
		v.t.Fatalf("pay reservations %v: %v", ids(rs), err)
	}
	return sales
}

func ids(rs []engine.Reservation) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func sum(rs []engine.Reservation) int64 {
	var n int64
	for _, r := range rs {
		n += r.Price
	}
	return n
}

// wantPending checks that each hold is the user's PENDING hold, with its deadline.
func (v *env) wantPending(t engine.Token, rs ...engine.Reservation) {
	v.t.Helper()
	for _, r := range rs {
		got := v.reservation(t, r.ID)
		if got.State != engine.ReservationPending || !got.ExpiresAt.Equal(r.ExpiresAt) {
			v.t.Fatalf("reservation %d is %s until %v; want PENDING until %v", r.ID, got.State, got.ExpiresAt, r.ExpiresAt)
		}
	}
}

// wantCharged checks the balance and the payment rows: one row per payment.
func (v *env) wantCharged(t engine.Token, start int64, rows int, total int64) {
	v.t.Helper()
	b := v.balance(t)
	if n, paid := payments(b); b.Balance != start-total || n != rows || paid != total {
		v.t.Fatalf("balance %d with %d payment rows of %d; want %d with %d rows of %d", b.Balance, n, paid, start-total, rows, total)
	}
}

// Two holds on two schedules, one payment: both seats sold, one payment row of the
// sum, the token DONE.
func TestPayManyTwoHolds(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{seats: []int{10, 10}})
		tok := v.buyer(c.ID, 500_000)
		a, b := v.hold(tok, ss[0].ID, 3), v.hold(tok, ss[1].ID, 4)
		if a.Price == b.Price {
			t.Fatalf("the schedules should differ in price: %d", a.Price)
		}
		sales := v.payMany(tok, b, a)
		if len(sales) != 2 || sales[0].ReservationID != b.ID || sales[1].ReservationID != a.ID ||
			sales[0].PaymentID != sales[1].PaymentID || sales[0].Balance != 500_000-a.Price-b.Price ||
			sales[0].Amount != b.Price || sales[1].Amount != a.Price {
			t.Fatalf("sales %+v; want b then a, one payment, balance %d", sales, 500_000-a.Price-b.Price)
		}
		v.wantCharged(tok, 500_000, 1, a.Price+b.Price)
		for _, r := range []engine.Reservation{a, b} {
			if got := v.reservation(tok, r.ID); got.State != engine.ReservationPaid {
				t.Fatalf("reservation %d is %s, want PAID", r.ID, got.State)
			}
		}
		if st := v.stats(c.ID); st.Sold != 2 || st.Held != 0 {
			t.Fatalf("stats sold=%d held=%d, want 2 and 0", st.Sold, st.Held)
		}
		if st, err := v.e.Status(v.ctx, tok); err != nil || st.State != engine.TokenDone {
			t.Fatalf("token %+v, %v; want DONE", st, err)
		}
		_, err := v.e.PayMany(v.ctx, tok, ids([]engine.Reservation{a, b}), a.Price+b.Price, "")
		wantErr(t, err, engine.ErrAlreadyPaid)
		v.wantCharged(tok, 500_000, 1, a.Price+b.Price)
	})
}

// One reservation of the list cannot be paid: nothing is charged or sold, the
// others are PENDING again with their old deadlines and can be paid afterwards.
func TestPayManyOneRefused(t *testing.T) {
	cases := []struct {
		name string
		// spoil makes one of the three holds unpayable, or names another in its
		// place, and returns the list to pay and the holds of it still payable.
		spoil func(v *env, tok, rival engine.Token, rs []engine.Reservation) (list, payable []engine.Reservation)
		want  error
	}{
		{"one expired", func(v *env, tok, rival engine.Token, rs []engine.Reservation) (list, payable []engine.Reservation) {
			v.clk.Advance(3 * time.Minute) // rs[0] was held 3 minutes before the others
			return rs, rs[1:]
		}, engine.ErrReservationExpired},
		{"one another user's", func(v *env, tok, rival engine.Token, rs []engine.Reservation) (list, payable []engine.Reservation) {
			return append(rs[:2:2], v.hold(rival, rs[0].ScheduleID, 9)), rs[:2]
		}, engine.ErrReservationNotFound},
		{"one already paid", func(v *env, tok, rival engine.Token, rs []engine.Reservation) (list, payable []engine.Reservation) {
			v.pay(tok, rs[2]) // the highest id: the other two are PAYING when it is refused
			return rs, rs[:2]
		}, engine.ErrAlreadyPaid},
		{"one of another concert", func(v *env, tok, rival engine.Token, rs []engine.Reservation) (list, payable []engine.Reservation) {
			c2, ss2 := v.concert(show{})
			tok2, _ := v.enter(v.e, tok.UserID, c2.ID)
			v.admitWaiting()
			return append(rs[:2:2], v.hold(tok2, ss2[0].ID, 1)), rs[:2]
		}, engine.ErrReservationNotFound},
		{"unknown reservation", func(v *env, tok, rival engine.Token, rs []engine.Reservation) (list, payable []engine.Reservation) {
			return append(rs[:2:2], engine.Reservation{ID: rs[2].ID + 1000, Price: rs[2].Price}), rs[:2]
		}, engine.ErrReservationNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
				c, ss := v.concert(show{})
				toks := v.admitted(2, c.ID)
				tok, rival := toks[0], toks[1]
				v.charge(tok, 1_000_000)
				v.charge(rival, 1_000_000)
				first := v.hold(tok, ss[0].ID, 1)
				v.clk.Advance(3 * time.Minute)
				rs := []engine.Reservation{first, v.hold(tok, ss[0].ID, 2), v.hold(tok, ss[0].ID, 3)}
				list, pending := tc.spoil(v, tok, rival, rs)
				before := v.balance(tok).Balance
				_, err := v.e.PayMany(v.ctx, tok, ids(list), sum(list), "")
				wantErr(t, err, tc.want)
				if b := v.balance(tok).Balance; b != before {
					t.Fatalf("balance %d after a refused payment, was %d", b, before)
				}
				v.wantPending(tok, pending...)
				sales := v.payMany(tok, pending...)
				if sales[0].PaymentID != sales[1].PaymentID {
					t.Fatalf("sales %+v are not one payment", sales)
				}
			})
		})
	}
}

// A paymentAmount that is not the sum of the prices is AMOUNT_MISMATCH and changes
// nothing; a malformed list is BAD_REQUEST before anything is touched.
func TestPayManyBadRequests(t *testing.T) {
	eachBackend(t, engine.Config{MaxHoldsPerUser: 3}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		a, b := v.hold(tok, ss[0].ID, 1), v.hold(tok, ss[0].ID, 2)
		cases := []struct {
			name   string
			ids    []int64
			amount int64
			want   engine.Code
		}{
			{"amount one short", []int64{a.ID, b.ID}, a.Price + b.Price - 1, engine.CodeAmountMismatch},
			{"amount of one", []int64{a.ID, b.ID}, a.Price, engine.CodeAmountMismatch},
			{"empty list", nil, a.Price, engine.CodeBadRequest},
			{"duplicate", []int64{a.ID, a.ID}, 2 * a.Price, engine.CodeBadRequest},
			{"more than a user may hold", []int64{a.ID, b.ID, a.ID + 100, a.ID + 101}, 4 * a.Price, engine.CodeBadRequest},
		}
		for _, tc := range cases {
			_, err := v.e.PayMany(v.ctx, tok, tc.ids, tc.amount, "")
			var e *engine.Error
			if !errors.As(err, &e) || e.Code != tc.want {
				t.Fatalf("%s: %v, want %s", tc.name, err, tc.want)
			}
		}
		v.wantCharged(tok, 1_000_000, 0, 0)
		v.wantPending(tok, a, b)
		v.payMany(tok, a, b)
		v.wantCharged(tok, 1_000_000, 1, a.Price+b.Price)
	})
}

// The same Idempotency-Key and body get the first answer; the key with another
// body is IDEMPOTENCY_KEY_REUSED; the money moved once.
func TestPayManyIdempotent(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		rs := v.holds(tok, ss[0].ID, 5, 6)
		first, err := v.e.PayMany(v.ctx, tok, ids(rs), sum(rs), "multi-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*engine.Engine{v.e, v.another()} {
			again, err := e.PayMany(v.ctx, tok, ids(rs), sum(rs), "multi-1")
			if err != nil || len(again) != 2 || again[0] != first[0] || again[1] != first[1] {
				t.Fatalf("retry = %+v, %v; want %+v", again, err, first)
			}
		}
		_, err = v.e.PayMany(v.ctx, tok, ids(rs), sum(rs)+1, "multi-1")
		wantErr(t, err, engine.ErrIdempotencyKeyReused)
		_, err = v.e.Pay(v.ctx, tok, rs[0].ID, rs[0].Price, "multi-1")
		wantErr(t, err, engine.ErrIdempotencyKeyReused)
		v.wantCharged(tok, 1_000_000, 1, sum(rs))
	})
}

// 20 attempts to pay the same pair at once, half naming it in the other order:
// exactly one 201, every other attempt ALREADY_PAID, the money moved once.
func TestPayManyConcurrentOnce(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		a, b := v.hold(tok, ss[0].ID, 7), v.hold(tok, ss[0].ID, 8)
		wantOnePaid(t, 20, func(ctx context.Context, i int) error {
			list := []int64{a.ID, b.ID}
			if i%2 == 1 {
				list = []int64{b.ID, a.ID}
			}
			_, err := v.e.PayMany(ctx, tok, list, a.Price+b.Price, "")
			return err
		})
		v.wantCharged(tok, 1_000_000, 1, a.Price+b.Price)
		if st := v.stats(c.ID); st.Sold != 2 {
			t.Fatalf("%d seats sold, want 2", st.Sold)
		}
	})
}

// The ticket limit counts every seat of a payment: two holds made before the limit
// was lowered to one are refused together by the payment, and nothing is charged.
func TestPayManyTicketLimit(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		rs := v.holds(tok, ss[0].ID, 1, 2)
		one := 1
		if _, err := v.e.PatchQueue(v.ctx, c.ID, engine.QueuePatch{MaxTicketsPerUser: &one}); err != nil {
			t.Fatal(err)
		}
		_, err := v.e.PayMany(v.ctx, tok, ids(rs), sum(rs), "")
		wantErr(t, err, engine.ErrTicketLimitReached)
		v.wantCharged(tok, 1_000_000, 0, 0)
		v.wantPending(tok, rs...)
		two := 2
		if _, err := v.e.PatchQueue(v.ctx, c.ID, engine.QueuePatch{MaxTicketsPerUser: &two}); err != nil {
			t.Fatal(err)
		}
		v.payMany(tok, rs...)
		counts, err := v.ledger.BoughtCounts(v.ctx, c.ID)
		if err != nil || counts[tok.UserID] != 2 {
			t.Fatalf("bought counts %v, %v; want 2 for the buyer", counts, err)
		}
	})
}

// A process that died between the ledger and the shared state leaves a PAYING pair;
// once its window lapses the sweeper settles both from the ledger.
func TestPayManyCrashRepair(t *testing.T) {
	const window = 30 * time.Second
	t.Run("sold", func(t *testing.T) {
		t.Parallel()
		eachBackend(t, engine.Config{PaymentWindow: window}, func(t *testing.T, v *env) {
			seats := v.crashable()
			c, ss := v.concert(show{})
			toks := v.admitted(2, c.ID)
			buyer, rival := toks[0], toks[1]
			v.charge(buyer, 1_000_000)
			rs := v.holds(buyer, ss[0].ID, 4, 5)
			seats.crashed.Store(true)
			v.payMany(buyer, rs...) // the ledger committed, so the buyer is told it worked
			if n, _ := v.rdb.ZCard(v.ctx, v.key(c.ID, "paying:"+itoa64(ss[0].ID))).Result(); n != 2 {
				t.Fatalf("%d seats PAYING after the crash, want 2", n)
			}
			seats.crashed.Store(false)
			v.clk.Advance(window + time.Second)
			v.sweep()
			for _, r := range rs {
				if got := v.reservation(buyer, r.ID); got.State != engine.ReservationPaid {
					t.Fatalf("reservation %d is %s after the sweep, want PAID", r.ID, got.State)
				}
				_, _, err := v.e.Hold(v.ctx, rival, r.ScheduleID, r.Seat)
				wantErr(t, err, engine.ErrSeatTaken)
			}
			if st := v.stats(c.ID); st.Sold != 2 || st.Held != 0 {
				t.Fatalf("stats sold=%d held=%d, want 2 and 0", st.Sold, st.Held)
			}
			v.wantCharged(buyer, 1_000_000, 1, sum(rs))
		})
	})
	t.Run("back", func(t *testing.T) {
		t.Parallel()
		eachBackend(t, engine.Config{PaymentWindow: window}, func(t *testing.T, v *env) {
			c, ss := v.concert(show{})
			buyer := v.buyer(c.ID, 1_000_000)
			rs := v.holds(buyer, ss[0].ID, 4, 5)
			// The process died after step 1: both holds PAYING, the ledger never asked.
			now := v.clk.Now()
			for _, r := range rs {
				if _, err := v.store.BeginPayment(v.ctx, buyer, r.ID, now, now.Add(window)); err != nil {
					t.Fatal(err)
				}
			}
			v.clk.Advance(window + time.Second)
			v.sweep()
			v.wantPending(buyer, rs...)
			v.wantCharged(buyer, 1_000_000, 0, 0)
			v.payMany(buyer, rs...)
			v.wantCharged(buyer, 1_000_000, 1, sum(rs))
		})
	})
}

// lostManyReply is lostReply for SellMany: it commits (or not) and then says the
// database was unreachable.
type lostManyReply struct {
	ledgertest.Ledger
	engine.PaymentFence
	multi  engine.MultiSeller
	commit bool
}

func (l lostManyReply) SellMany(ctx context.Context, sales []engine.Sale, idem engine.Idempotency) ([]engine.Sale, error) {
	if l.commit {
		if _, err := l.multi.SellMany(ctx, sales, idem); err != nil {
			return nil, err
		}
	}
	return nil, engine.Unavailable("test", errors.New("reply lost"))
}

func (l lostManyReply) IdempotentSales(ctx context.Context, userID int64, idem engine.Idempotency) ([]engine.Sale, bool, error) {
	return l.multi.IdempotentSales(ctx, userID, idem)
}

// A payment of several holds whose reply was lost is settled by the fence before
// the answer: committed means 201 with every sale and every seat sold; not
// committed means a final 503, every hold back to PENDING, nothing charged.
func TestPayManyUnknownOutcomeIsSettled(t *testing.T) {
	eachOutcome(t, func(t *testing.T, v *env, commit bool) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		rs := v.holds(tok, ss[0].ID, 5, 6)
		l := lostManyReply{v.ledger, v.ledger.(engine.PaymentFence), v.ledger.(engine.MultiSeller), commit}
		e := engine.New(v.cfg, v.clk, v.store.Roles(l))
		sales, err := e.PayMany(v.ctx, tok, ids(rs), sum(rs), "")
		if commit {
			if err != nil || len(sales) != 2 || sales[0].ReservationID != rs[0].ID || sales[1].ReservationID != rs[1].ID ||
				sales[0].PaymentID == 0 || sales[1].PaymentID != sales[0].PaymentID || sales[1].Balance != 1_000_000-sum(rs) {
				t.Fatalf("pay = %+v, %v; want both committed sales", sales, err)
			}
			for _, r := range rs {
				if got := v.reservation(tok, r.ID); got.State != engine.ReservationPaid {
					t.Fatalf("reservation %d is %s, want PAID", r.ID, got.State)
				}
			}
			v.wantCharged(tok, 1_000_000, 1, sum(rs))
			return
		}
		wantErr(t, err, engine.ErrUnavailable)
		v.wantPending(tok, rs...)
		v.wantCharged(tok, 1_000_000, 0, 0)
		v.payMany(tok, rs...)
		v.wantCharged(tok, 1_000_000, 1, sum(rs))
	})
}
