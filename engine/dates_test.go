package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/concertd/concertd/engine"
)

// TestConcertDates: a schedule's date is YYYY-MM-DD from 2000-01-01 to
// 9999-12-31 on both ledgers. Go's time.Parse takes year 0, which PostgreSQL's
// date has not; anything outside the range or not a date is a BAD_REQUEST that
// says what is wanted, and leaves no concert behind.
func TestConcertDates(t *testing.T) {
	cases := []struct {
		name, date string
		ok         bool
	}{
		{"first day", "2000-01-01", true},
		{"last day", "9999-12-31", true},
		{"leap day", "2028-02-29", true},
		{"year 0", "0000-12-24", false},
		{"year 1", "0001-01-01", false},
		{"the day before 2000", "1999-12-31", false},
		{"five-digit year", "10000-01-01", false},
		{"no such day", "2026-02-30", false},
		{"no leap day", "2027-02-29", false},
		{"day first", "24/12/2026", false},
		{"one-digit month", "2026-1-05", false},
		{"instant", "2026-12-24T00:00:00Z", false},
		{"padded", " 2026-12-24", false},
		{"empty", "", false},
	}
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		for _, c := range cases {
			before, err := v.e.Concerts(v.ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The bad date is the second schedule: a refusal must take the first with it.
			_, ss, err := v.e.CreateConcert(v.ctx, engine.NewConcert{Title: c.name, Schedules: []engine.NewSchedule{
				{Date: "2026-12-24", SeatCount: 1, Price: 1}, {Date: c.date, SeatCount: 1, Price: 1},
			}})
			after, err2 := v.e.Concerts(v.ctx)
			if err2 != nil {
				t.Fatal(err2)
			}
			if c.ok {
				if err != nil || len(ss) != 2 || ss[1].Date != c.date {
					t.Errorf("%s %q: schedules %+v, err %v; want it stored as given", c.name, c.date, ss, err)
				}
				continue
			}
			var e *engine.Error
			if !errors.As(err, &e) || e.Code != engine.CodeBadRequest ||
				!strings.Contains(e.Message, "schedules[1].concertDate") || !strings.Contains(e.Message, "2000-01-01 to 9999-12-31") {
				t.Errorf("%s %q: err %v; want BAD_REQUEST naming schedules[1].concertDate and the range", c.name, c.date, err)
			}
			if len(after) != len(before) {
				t.Errorf("%s %q: concerts %d -> %d; a refused concert was stored", c.name, c.date, len(before), len(after))
			}
		}
	})
}
