package engine

import (
	"context"
	"testing"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// The hold and seat-map hot path of one instance, over stores that answer from
// memory: what a request costs the engine itself, Redis and the ledger aside.

const benchSeats = 50_000

// benchConcerts is a ledger whose catalog is one open concert with one schedule.
type benchConcerts struct{ Concerts }

func (benchConcerts) Catalog(context.Context) ([]Concert, []Schedule, error) {
	c := Concert{ID: 1, Title: "Bench", SaleOpensAt: t0Bench.Add(-time.Hour), Queue: QueueSettings{AdmitPerSecond: 100, MaxActive: 1000}}
	s := Schedule{ID: 1, ConcertID: 1, Date: t0Bench.AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: benchSeats, Price: 50_000}
	return []Concert{c}, []Schedule{s}, nil
}

// benchQueue says every token is ACTIVE.
type benchQueue struct{ Queue }

func (benchQueue) Status(_ context.Context, _ Token, now time.Time, _ time.Duration) (TokenStatus, error) {
	return TokenStatus{State: TokenActive, ActiveUntil: now.Add(time.Minute)}, nil
}

// benchHolds has every odd seat held by user 1 and makes every hold asked of it.
type benchHolds struct {
	Holds
	m SeatMap
}

func newBenchHolds() *benchHolds {
	h := &benchHolds{m: SeatMap{Sold: make([]bool, benchSeats+1), Tags: make([]byte, benchSeats+1)}}
	for n := 1; n <= benchSeats; n += 2 {
		h.m.Tags[n] = HolderTag(1)
	}
	return h
}

func (h *benchHolds) SeatMap(context.Context, int64, int64, int, time.Time) (SeatMap, error) {
	return h.m, nil
}

func (h *benchHolds) Hold(_ context.Context, r HoldRequest) (HoldResult, error) {
	return HoldResult{Reservation: Reservation{ID: 1, ConcertID: 1, ScheduleID: r.Schedule.ID, Seat: r.Seat,
		UserID: r.Token.UserID, State: ReservationPending, ExpiresAt: r.Deadline}, Created: true}, nil
}

var t0Bench = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// benchEngine is an engine on a clock that stands still, so the seat view and
// the ACTIVE word it keeps stay fresh for the whole run.
func benchEngine(b *testing.B, cfg Config) *Engine {
	b.Helper()
	cfg.Secret = []byte("bench")
	e := New(cfg, clock.NewSimulated(t0Bench), Stores{Concerts: benchConcerts{}, Queue: benchQueue{}, Holds: newBenchHolds()})
	if _, err := e.SeatMap(context.Background(), Token{ConcertID: 1, UserID: 2, Gen: 1}, 1); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkHoldPath: a hold on a seat someone else holds, refused from memory
// (one request, and many at once), the same hold with the caches off, and a hold
// on a free seat, which goes to the shared state.
func BenchmarkHoldPath(b *testing.B) {
	ctx := context.Background()
	tok := Token{ConcertID: 1, UserID: 2, Gen: 1}
	b.Run("refused-here", func(b *testing.B) {
		e := benchEngine(b, Config{})
		i := 0
		for b.Loop() {
			if _, _, err := e.Hold(ctx, tok, 1, 1+2*(i%(benchSeats/2))); !isCode(err, CodeSeatTaken) {
				b.Fatal(err)
			}
			i++
		}
		if e.Counters().HoldsRefusedHere == 0 {
			b.Fatal("nothing refused from memory")
		}
	})
	b.Run("refused-here-parallel", func(b *testing.B) {
		e := benchEngine(b, Config{})
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				t := Token{ConcertID: 1, UserID: int64(2 + i%1000), Gen: 1}
				if _, _, err := e.Hold(ctx, t, 1, 1+2*(i%(benchSeats/2))); err != nil && !isCode(err, CodeSeatTaken) {
					b.Fatal(err)
				}
				i++
			}
		})
	})
	b.Run("cache-off", func(b *testing.B) {
		e := benchEngine(b, Config{HoldCacheAge: CacheOff})
		for b.Loop() {
			if _, _, err := e.Hold(ctx, tok, 1, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("free-seat", func(b *testing.B) {
		e := benchEngine(b, Config{})
		for b.Loop() {
			if _, _, err := e.Hold(ctx, tok, 1, 2); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSeatMapFresh is a seat map answered from this instance's view.
func BenchmarkSeatMapFresh(b *testing.B) {
	ctx := context.Background()
	tok := Token{ConcertID: 1, UserID: 2, Gen: 1}
	e := benchEngine(b, Config{})
	for b.Loop() {
		if v, err := e.SeatMap(ctx, tok, 1); err != nil || len(v.Seats) != benchSeats {
			b.Fatal(err)
		}
	}
}
