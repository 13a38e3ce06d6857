package engine_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/engine/pow"
	"github.com/concertd/concertd/store/ledgertest"
	"github.com/concertd/concertd/store/memstore"
	"github.com/concertd/concertd/store/redisstore"
	"github.com/concertd/concertd/store/storetest"
)

// powBits is what the gate tests ask for: real work, a few ms to solve.
const powBits = 10

func (v *env) setBits(e *engine.Engine, concertID int64, bits int) {
	v.t.Helper()
	if _, err := e.PatchQueue(v.ctx, concertID, engine.QueuePatch{ProofOfWorkBits: &bits}); err != nil {
		v.t.Fatal(err)
	}
}

// solved gets a challenge from e and solves it.
func (v *env) solved(e *engine.Engine, concertID int64) *engine.Proof {
	v.t.Helper()
	ch, err := e.Challenge(v.ctx, concertID)
	if err != nil {
		v.t.Fatal(err)
	}
	return &engine.Proof{Challenge: ch.Value, Nonce: pow.Solve(ch.Value, ch.Bits)}
}

// unsolved returns a nonce that does not solve c at bits.
func unsolved(c string, bits int) string {
	for n := 0; ; n++ {
		nonce := "x" + itoa64(int64(n))
		if pow.LeadingZeroBits(sha256.Sum256([]byte(c+":"+nonce))) < bits {
			return nonce
		}
	}
}

func (v *env) enterWith(e *engine.Engine, uid, concertID int64, pass engine.EntryPass) (engine.TokenGrant, error) {
	return e.IssueTokenWith(v.ctx, uid, concertID, pass)
}

func TestProofOfWorkGate(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{})
		other, _ := v.concert(show{})
		u := v.users(6)

		// Off by default: no proof needed, and a challenge says 0 bits.
		v.enter(v.e, u[0], c.ID)
		if ch, err := v.e.Challenge(v.ctx, c.ID); err != nil || ch.Bits != 0 || !ch.ExpiresAt.Equal(t0.Add(engine.ChallengeTTL)) {
			t.Fatalf("challenge of an open concert: %+v, %v", ch, err)
		}
		_, err := v.e.Challenge(v.ctx, other.ID+100)
		wantErr(t, err, engine.ErrConcertNotFound)

		v.setBits(v.e, c.ID, powBits)
		_, err = v.enterWith(v.e, u[1], c.ID, engine.EntryPass{})
		wantErr(t, err, engine.ErrProofRequired)

		// The user who entered before gets their token back without a proof.
		if g, err := v.enterWith(v.e, u[0], c.ID, engine.EntryPass{}); err != nil || !g.Reused {
			t.Fatalf("live token without proof: %+v, %v", g, err)
		}

		p := v.solved(v.e, c.ID)
		if g, err := v.enterWith(v.e, u[1], c.ID, engine.EntryPass{Proof: p}); err != nil || g.Reused {
			t.Fatalf("solved proof: %+v, %v", g, err)
		}
		// Replayed by another user, on another instance: once only.
		_, err = v.enterWith(v.another(), u[2], c.ID, engine.EntryPass{Proof: p})
		wantErr(t, err, engine.ErrProofInvalid)
		// The same user again needs nothing: their token is live.
		if g, err := v.enterWith(v.e, u[1], c.ID, engine.EntryPass{}); err != nil || !g.Reused {
			t.Fatalf("second entry of the proven user: %+v, %v", g, err)
		}

		// Refused: another concert's challenge, a wrong nonce, an altered challenge.
		v.setBits(v.e, other.ID, powBits)
		_, err = v.enterWith(v.e, u[2], c.ID, engine.EntryPass{Proof: v.solved(v.e, other.ID)})
		wantErr(t, err, engine.ErrProofInvalid)
		ch, _ := v.e.Challenge(v.ctx, c.ID)
		_, err = v.enterWith(v.e, u[2], c.ID, engine.EntryPass{Proof: &engine.Proof{Challenge: ch.Value, Nonce: unsolved(ch.Value, powBits)}})
		wantErr(t, err, engine.ErrProofInvalid)
		// Claiming fewer bits breaks the signature, even with the work done.
		low := strings.Replace(ch.Value, "."+itoa64(powBits)+".", ".1.", 1)
		_, err = v.enterWith(v.e, u[2], c.ID, engine.EntryPass{Proof: &engine.Proof{Challenge: low, Nonce: pow.Solve(low, 1)}})
		wantErr(t, err, engine.ErrProofInvalid)
		// The refusals above did not use the challenge up.
		if _, err := v.enterWith(v.e, u[2], c.ID, engine.EntryPass{Proof: &engine.Proof{Challenge: ch.Value, Nonce: pow.Solve(ch.Value, powBits)}}); err != nil {
			t.Fatalf("a challenge refused for a wrong nonce could not be used: %v", err)
		}

		// Expiry: good until 5 minutes, refused at 5 minutes.
		early, late := v.solved(v.e, c.ID), v.solved(v.e, c.ID)
		v.clk.Advance(engine.ChallengeTTL - time.Second)
		if _, err := v.enterWith(v.e, u[3], c.ID, engine.EntryPass{Proof: early}); err != nil {
			t.Fatalf("a challenge 1 s before its expiry: %v", err)
		}
		v.clk.Advance(time.Second)
		_, err = v.enterWith(v.e, u[4], c.ID, engine.EntryPass{Proof: late})
		wantErr(t, err, engine.ErrProofInvalid)

		// Raising the bits voids challenges made at fewer, on every instance within
		// a second; lowering them keeps harder ones good.
		b := v.another()
		old := v.solved(b, c.ID)
		v.setBits(v.e, c.ID, powBits+2)
		v.clk.Advance(time.Second)
		_, err = v.enterWith(b, u[4], c.ID, engine.EntryPass{Proof: old})
		wantErr(t, err, engine.ErrProofInvalid)
		hard := v.solved(b, c.ID)
		v.setBits(v.e, c.ID, 1)
		v.clk.Advance(time.Second)
		if _, err := v.enterWith(b, u[4], c.ID, engine.EntryPass{Proof: hard}); err != nil {
			t.Fatalf("a harder challenge after the bits were lowered: %v", err)
		}
		// Off again: no proof needed on any instance.
		v.setBits(v.e, c.ID, 0)
		v.clk.Advance(time.Second)
		if _, err := v.enterWith(b, u[5], c.ID, engine.EntryPass{}); err != nil {
			t.Fatalf("bits 0: %v", err)
		}
	})
}

// TestProofOfWorkBitsRange: 0..26 are settings, on creation and by patch; the
// challenge carries them; anything else is a BAD_REQUEST that changes nothing.
func TestProofOfWorkBitsRange(t *testing.T) {
	v := fastEnv(t, engine.Config{})
	c, _ := v.concert(show{})
	last := 0
	for bits := -1; bits <= pow.MaxBits+2; bits++ {
		ok := bits >= 0 && bits <= pow.MaxBits
		nc := engine.NewConcert{
			Title: "Bits", Queue: engine.QueueSettings{ProofOfWorkBits: bits},
			Schedules: []engine.NewSchedule{{Date: "2026-12-24", SeatCount: 1, Price: 1}},
		}
		created, _, err := v.e.CreateConcert(v.ctx, nc)
		if ok != (err == nil) {
			t.Fatalf("create with bits %d: %v", bits, err)
		}
		if ok {
			ch, err := v.e.Challenge(v.ctx, created.ID)
			if err != nil || ch.Bits != bits {
				t.Fatalf("challenge of a concert created with bits %d: %+v, %v", bits, ch, err)
			}
		} else {
			wantErr(t, err, engine.ErrBadRequest)
		}
		got, err := v.e.PatchQueue(v.ctx, c.ID, engine.QueuePatch{ProofOfWorkBits: &bits})
		if ok != (err == nil) {
			t.Fatalf("patch to bits %d: %v", bits, err)
		}
		ch, _ := v.e.Challenge(v.ctx, c.ID)
		if ok && (got.ProofOfWorkBits != bits || ch.Bits != bits) {
			t.Fatalf("patched bits %d: settings %+v, challenge %+v", bits, got, ch)
		}
		if ok {
			last = bits
		} else if ch.Bits != last {
			t.Fatalf("a refused patch to %d changed the bits from %d to %d", bits, last, ch.Bits)
		}
	}
}

// TestPresaleCodes: until its end a presale lets in only users with a code,
// which binds to the first user; afterwards the sale is general.
func TestPresaleCodes(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{})
		other, _ := v.concert(show{})
		u := v.users(5)
		until := t0.Add(time.Hour)

		for _, n := range []int{0, -1, engine.MaxPresaleCodes + 1} {
			_, err := v.e.CreatePresaleCodes(v.ctx, c.ID, n, until)
			wantErr(t, err, engine.ErrBadRequest)
		}
		_, err := v.e.CreatePresaleCodes(v.ctx, other.ID+100, 1, until)
		wantErr(t, err, engine.ErrConcertNotFound)
		// Nothing made: the concert is still open to all.
		v.enter(v.e, u[4], c.ID)

		codes, err := v.e.CreatePresaleCodes(v.ctx, c.ID, 50, until)
		if err != nil || len(codes) != 50 {
			t.Fatalf("CreatePresaleCodes = %d codes, %v", len(codes), err)
		}
		seen := map[string]bool{}
		for _, code := range codes {
			plain := strings.ReplaceAll(code, "-", "")
			if len(plain) < 12 || strings.Trim(plain, "23456789ABCDEFGHJKMNPQRSTVWXYZ") != "" || seen[plain] {
				t.Fatalf("code %q: too short, ambiguous characters, or a repeat", code)
			}
			seen[plain] = true
		}

		// A user who held a live token from before the presale gets it back.
		if _, g := v.enter(v.e, u[4], c.ID); !g.Reused {
			t.Fatal("a live token from before the presale was not handed back")
		}
		b := v.another()
		_, err = v.enterWith(b, u[0], c.ID, engine.EntryPass{})
		wantErr(t, err, engine.ErrNotInvited)
		_, err = v.enterWith(b, u[0], c.ID, engine.EntryPass{PresaleCode: "NOT-A-CODE"})
		wantErr(t, err, engine.ErrNotInvited)
		_, err = v.enterWith(b, u[0], other.ID, engine.EntryPass{}) // no presale there
		if err != nil {
			t.Fatalf("a concert without a presale: %v", err)
		}
		// Typed by hand: lower case, no dashes.
		typed := strings.ToLower(strings.ReplaceAll(codes[0], "-", ""))
		if _, err := v.enterWith(b, u[0], c.ID, engine.EntryPass{PresaleCode: typed}); err != nil {
			t.Fatalf("entry with a code: %v", err)
		}
		_, err = v.enterWith(v.e, u[1], c.ID, engine.EntryPass{PresaleCode: codes[0]})
		wantErr(t, err, engine.ErrNotInvited)
		if _, err := v.enterWith(v.e, u[1], c.ID, engine.EntryPass{PresaleCode: codes[1]}); err != nil {
			t.Fatalf("second code: %v", err)
		}
		// A bound user needs no code later, even once their token is gone.
		v.clk.Advance(3 * time.Minute) // past the default idle timeout, 2m
		if g, err := v.enterWith(v.e, u[0], c.ID, engine.EntryPass{}); err != nil || g.Reused {
			t.Fatalf("bound user, new token: %+v, %v", g, err)
		}
		// More codes move the end, seen by the other instance within a second.
		more, err := v.e.CreatePresaleCodes(v.ctx, c.ID, 1, until.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		v.clk.Set(until.Add(time.Second))
		_, err = v.enterWith(b, u[2], c.ID, engine.EntryPass{})
		wantErr(t, err, engine.ErrNotInvited)
		if _, err := v.enterWith(b, u[2], c.ID, engine.EntryPass{PresaleCode: more[0]}); err != nil {
			t.Fatalf("a code made later: %v", err)
		}
		// After the end the sale is general.
		v.clk.Set(until.Add(time.Hour))
		if _, err := v.enterWith(b, u[3], c.ID, engine.EntryPass{}); err != nil {
			t.Fatalf("after the presale: %v", err)
		}
	})
}

// TestPresaleCodeRace: 20 users race for one code through two instances: exactly
// one gets in, the others hear NOT_INVITED.
func TestPresaleCodeRace(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{})
		codes, err := v.e.CreatePresaleCodes(v.ctx, c.ID, 1, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		const n = 20
		u := v.users(n)
		engines := []*engine.Engine{v.e, v.another()}
		var wins, refusals atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, err := v.enterWith(engines[i%2], u[i], c.ID, engine.EntryPass{PresaleCode: codes[0]})
				switch {
				case err == nil:
					wins.Add(1)
				case isErr(err, engine.ErrNotInvited):
					refusals.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || refusals.Load() != n-1 {
			t.Fatalf("%d users got in with one code, %d refused", wins.Load(), refusals.Load())
		}
		if st := v.stats(c.ID); st.Waiting+st.Active != 1 {
			t.Fatalf("%d tokens in line, want 1", st.Waiting+st.Active)
		}
	})
}

// TestGatesTogether: a wrong presale code does not cost the buyer the challenge
// they solved; the right code then enters with it.
func TestGatesTogether(t *testing.T) {
	v := fastEnv(t, engine.Config{})
	c, _ := v.concert(show{})
	v.setBits(v.e, c.ID, powBits)
	codes, err := v.e.CreatePresaleCodes(v.ctx, c.ID, 1, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	u := v.users(1)[0]
	_, err = v.enterWith(v.e, u, c.ID, engine.EntryPass{PresaleCode: codes[0]})
	wantErr(t, err, engine.ErrProofRequired)
	p := v.solved(v.e, c.ID)
	_, err = v.enterWith(v.e, u, c.ID, engine.EntryPass{Proof: p, PresaleCode: "WRONG"})
	wantErr(t, err, engine.ErrNotInvited)
	if _, err := v.enterWith(v.e, u, c.ID, engine.EntryPass{Proof: p, PresaleCode: codes[0]}); err != nil {
		t.Fatal(err)
	}
}

func isErr(err, target error) bool {
	e, ok := err.(*engine.Error)
	return ok && e.Is(target)
}

// catalogCounter counts catalog loads.
type catalogCounter struct {
	ledgertest.Ledger
	loads atomic.Int64
}

func (l *catalogCounter) Catalog(ctx context.Context) ([]engine.Concert, []engine.Schedule, error) {
	l.loads.Add(1)
	return l.Ledger.Catalog(ctx)
}

// TestSeatMapUnknownSchedules: the seat map checks the token before the catalog,
// so a waiting token's made-up schedule ids never reach the ledger; an admitted
// one's reload the catalog at most once a second.
func TestSeatMapUnknownSchedules(t *testing.T) {
	_, rdb := storetest.Miniredis(t)
	l := &catalogCounter{Ledger: memstore.New()}
	s := redisstore.New(rdb, "concertd", l)
	clk := clock.NewSimulated(t0)
	v := &env{t: t, ctx: context.Background(), cfg: engine.Config{Secret: secret}, clk: clk, ledger: l, store: s, rdb: rdb, prefix: "concertd"}
	v.e = engine.New(v.cfg, clk, s.Roles(l))
	c, ss := v.concert(show{rate: 1})
	ids := v.users(2)
	active, _ := v.enter(v.e, ids[0], c.ID)
	v.admitStep()
	clk.Advance(time.Second)
	v.admitStep()
	waiting, _ := v.enter(v.e, ids[1], c.ID)
	v.seatMap(v.e, active, ss[0].ID) // admitted, and the schedule is known

	before := l.loads.Load()
	for i := range 100 {
		_, err := v.e.SeatMap(v.ctx, waiting, ss[0].ID+1+int64(i))
		wantErr(t, err, engine.ErrNotAdmitted)
	}
	if n := l.loads.Load() - before; n != 0 {
		t.Fatalf("a waiting token's unknown schedules loaded the catalog %d times", n)
	}
	for i := range 100 {
		_, err := v.e.SeatMap(v.ctx, active, ss[0].ID+1+int64(i))
		wantErr(t, err, engine.ErrScheduleNotFound)
	}
	if n := l.loads.Load() - before; n != 1 {
		t.Fatalf("100 unknown schedules in one second loaded the catalog %d times, want 1", n)
	}
	// Holds look schedules up through the same catalog.
	for i := range 10 {
		_, _, err := v.e.Hold(v.ctx, active, ss[0].ID+1+int64(i), 1)
		wantErr(t, err, engine.ErrScheduleNotFound)
	}
	clk.Advance(time.Second)
	// A schedule created elsewhere since is found at the next allowed reload.
	_, more, err := l.CreateConcert(v.ctx, engine.NewConcert{
		Title: "Elsewhere", SaleOpensAt: t0, Queue: engine.QueueSettings{AdmitPerSecond: 1, MaxActive: 1},
		Schedules: []engine.NewSchedule{{Date: "2026-12-24", SeatCount: 1, Price: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.e.SeatMap(v.ctx, active, more[0].ID)
	wantErr(t, err, engine.ErrWrongConcert)
	for i := range 100 {
		_, err := v.e.SeatMap(v.ctx, active, more[0].ID+1+int64(i))
		wantErr(t, err, engine.ErrScheduleNotFound)
	}
	if n := l.loads.Load() - before; n != 2 {
		t.Fatalf("after a second: %d catalog loads in all, want 2", n)
	}
}
