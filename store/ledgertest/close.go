package ledgertest

import (
	"testing"

	"github.com/concertd/concertd/engine"
)

// testCloseSale: a closed sale is kept with the queue settings and never reopens.
func testCloseSale(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	open := f.schedule(10, 1000)
	closed := f.schedule(10, 1000)
	q := engine.QueueSettings{AdmitPerSecond: 5, MaxActive: 6, Closed: true}
	if err := l.SaveQueueSettings(f.ctx, closed.ConcertID, q); err != nil {
		t.Fatal(err)
	}
	q.Closed = false // an operator's later settings cannot reopen it
	if err := l.SaveQueueSettings(f.ctx, closed.ConcertID, q); err != nil {
		t.Fatal(err)
	}
	concerts, _, err := l.Catalog(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]bool{}
	for _, c := range concerts {
		got[c.ID] = c.Queue.Closed
	}
	if !got[closed.ConcertID] || got[open.ConcertID] {
		t.Fatalf("closed per concert %v; want only %d closed", got, closed.ConcertID)
	}
}
