// The catalog part of the suite: concerts, schedules and queue settings.

package ledgertest

import (
	"errors"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

func testCatalog(t *testing.T, l engine.Ledger) {
	f := newFixture(t, l)
	if cs, ss, err := l.Catalog(f.ctx); err != nil || len(cs) != 0 || len(ss) != 0 {
		t.Fatalf("empty Catalog = %v, %v, %v", cs, ss, err)
	}
	seoul := time.FixedZone("KST", 9*3600)
	opens := time.Date(2026, 11, 24, 19, 15, 0, 123456789, seoul)
	in := []engine.NewConcert{
		{
			Title: "First", Description: "two dates", SaleOpensAt: opens,
			Queue: engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000},
			Schedules: []engine.NewSchedule{
				{Date: "2026-12-24", SeatCount: 50, Price: 50000},
				{Date: "2026-12-25", SeatCount: 100000, Price: 1},
			},
		},
		{
			Title: "Second", SaleOpensAt: opens.Add(time.Hour),
			Queue:     engine.QueueSettings{AdmitPerSecond: 5, MaxActive: 7, Paused: true},
			Schedules: []engine.NewSchedule{{Date: "2027-01-01", SeatCount: 1, Price: 99}},
		},
		{Title: "No dates", SaleOpensAt: opens, Queue: engine.QueueSettings{AdmitPerSecond: 1, MaxActive: 1}},
	}
	var wantC []engine.Concert
	var wantS []engine.Schedule
	for _, nc := range in {
		c, ss, err := l.CreateConcert(f.ctx, nc)
		if err != nil {
			t.Fatalf("CreateConcert(%s): %v", nc.Title, err)
		}
		if c.ID <= 0 || c.Title != nc.Title || c.Description != nc.Description || c.Queue != nc.Queue {
			t.Errorf("CreateConcert returned %+v for %+v", c, nc)
		}
		if len(ss) != len(nc.Schedules) {
			t.Fatalf("CreateConcert(%s) returned %d schedules, want %d", nc.Title, len(ss), len(nc.Schedules))
		}
		for i, s := range ss {
			ns := nc.Schedules[i]
			if s.ID <= 0 || s.ConcertID != c.ID || s.ConcertTitle != nc.Title || s.Date != ns.Date ||
				s.SeatCount != ns.SeatCount || s.Price != ns.Price {
				t.Errorf("schedule %d = %+v, want %+v of concert %d", i, s, ns, c.ID)
			}
		}
		wantC = append(wantC, c)
		wantS = append(wantS, ss...)
	}
	cs, ss, err := l.Catalog(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(wantC) || len(ss) != len(wantS) {
		t.Fatalf("Catalog has %d concerts, %d schedules; want %d, %d", len(cs), len(ss), len(wantC), len(wantS))
	}
	for i := range cs {
		if i > 0 && cs[i].ID <= cs[i-1].ID {
			t.Errorf("concerts not ordered by id: %d after %d", cs[i].ID, cs[i-1].ID)
		}
		if cs[i].SaleOpensAt.Location() != time.UTC {
			t.Errorf("SaleOpensAt %v is not UTC", cs[i].SaleOpensAt)
		}
		if cs[i] != wantC[i] {
			t.Errorf("Catalog concert %d = %+v, want %+v", i, cs[i], wantC[i])
		}
	}
	wantOpens := opens.UTC().Truncate(time.Microsecond)
	if !cs[0].SaleOpensAt.Equal(wantOpens) || cs[0].SaleOpensAt.Location() != time.UTC {
		t.Errorf("SaleOpensAt = %v, want %v in UTC", cs[0].SaleOpensAt, wantOpens)
	}
	for i := range ss {
		if i > 0 && ss[i].ID <= ss[i-1].ID {
			t.Errorf("schedules not ordered by id: %d after %d", ss[i].ID, ss[i-1].ID)
		}
		if ss[i] != wantS[i] {
			t.Errorf("Catalog schedule %d = %+v, want %+v", i, ss[i], wantS[i])
		}
	}
	if ss[0].Date != "2026-12-24" {
		t.Errorf("Date = %q, want 2026-12-24", ss[0].Date)
	}

	for _, bad := range []struct {
		name string
		s    engine.NewSchedule
	}{
		{"date not YYYY-MM-DD", engine.NewSchedule{Date: "24/12/2026", SeatCount: 1, Price: 1}},
		{"no such date", engine.NewSchedule{Date: "2026-02-30", SeatCount: 1, Price: 1}},
		{"no seats", engine.NewSchedule{Date: "2026-12-24", SeatCount: 0, Price: 1}},
		{"too many seats", engine.NewSchedule{Date: "2026-12-24", SeatCount: engine.MaxSeatCount + 1, Price: 1}},
		{"free seats", engine.NewSchedule{Date: "2026-12-24", SeatCount: 1, Price: 0}},
	} {
		nc := engine.NewConcert{Title: "Bad", SaleOpensAt: opens,
			Schedules: []engine.NewSchedule{{Date: "2026-12-24", SeatCount: 1, Price: 1}, bad.s}}
		if _, _, err := l.CreateConcert(f.ctx, nc); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("%s: err = %v, want BAD_REQUEST", bad.name, err)
		}
	}
	if cs, ss, _ := l.Catalog(f.ctx); len(cs) != len(wantC) || len(ss) != len(wantS) {
		t.Errorf("a refused concert left rows: %d concerts, %d schedules", len(cs), len(ss))
	}
}

func testSaveQueueSettings(t *testing.T, l engine.Ledger) {
	f := newFixture(t, l)
	sch := f.schedule(10, 100)
	other := f.schedule(10, 100)
	want := engine.QueueSettings{AdmitPerSecond: 500, MaxActive: 5000, Paused: true}
	if err := l.SaveQueueSettings(f.ctx, sch.ConcertID, want); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveQueueSettings(f.ctx, other.ConcertID+100, want); !errors.Is(err, engine.ErrConcertNotFound) {
		t.Errorf("unknown concert: err = %v, want CONCERT_NOT_FOUND", err)
	}
	cs, _, err := l.Catalog(f.ctx)
	if err != nil || len(cs) != 2 {
		t.Fatalf("Catalog = %v, %v", cs, err)
	}
	if cs[0].Queue != want {
		t.Errorf("saved settings read back as %+v, want %+v", cs[0].Queue, want)
	}
	if cs[1].Queue != (engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000}) {
		t.Errorf("another concert's settings changed: %+v", cs[1].Queue)
	}
}
