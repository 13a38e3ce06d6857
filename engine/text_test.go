package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/store/pgstore"
	"github.com/concertd/concertd/store/redisstore"
	"github.com/concertd/concertd/store/storetest"
)

// TestFreeText checks names, titles and descriptions on both ledgers: lengths are
// counted in characters (a 100-letter Hangul name is 300 bytes and fits), control
// characters are a 400 (PostgreSQL refuses NUL outright, which was a 500), and a
// refused request leaves nothing behind: its email stays free, no concert appears.
func TestFreeText(t *testing.T) {
	hangul := func(n int) string { return strings.Repeat("김", n) }
	users := []struct {
		name string
		in   string
		ok   bool
	}{
		{"plain", "Kim", true},
		{"100 Hangul letters", hangul(engine.MaxNameLength), true},
		{"101 Hangul letters", hangul(engine.MaxNameLength + 1), false},
		{"101 ASCII letters", strings.Repeat("k", engine.MaxNameLength+1), false},
		{"NUL", "Ki\x00m", false},
		{"newline", "Kim\nLee", false},
		{"tab", "Kim\tLee", false},
		{"DEL", "Kim\x7f", false},
		{"C1 control", "Ki\u0085m", false},
		{"only spaces", "   ", false},
	}
	concerts := []struct {
		name, title, description string
		ok                       bool
	}{
		{"Hangul title, multi-line description", hangul(engine.MaxTitleLength), "첫 줄\n둘째 줄\r\n\t끝", true},
		{"longest description in Hangul", "t", hangul(engine.MaxDescriptionLength), true},
		{"title one letter too long", hangul(engine.MaxTitleLength + 1), "", false},
		{"description one letter too long", "t", hangul(engine.MaxDescriptionLength + 1), false},
		{"NUL in title", "T\x00", "", false},
		{"NUL in description", "t", "d\x00", false},
		{"newline in title", "Line\nbreak", "", false},
		{"escape in description", "t", "\x1b[31mred", false},
	}
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		for i, c := range users {
			email := fmt.Sprintf("text%d-%d@example.com", i, userSeq.Add(1))
			_, err := v.e.CreateUser(v.ctx, c.in, email, "")
			if c.ok != (err == nil) {
				t.Fatalf("user %s: err = %v, want ok=%v", c.name, err, c.ok)
			}
			if c.ok {
				continue
			}
			if !errors.Is(err, engine.ErrBadRequest) {
				t.Fatalf("user %s: err = %v, want BAD_REQUEST", c.name, err)
			}
			if _, err := v.e.CreateUser(v.ctx, "Kim", email, ""); err != nil {
				t.Fatalf("user %s: the refused request kept its email: %v", c.name, err)
			}
		}
		for _, c := range concerts {
			before, err := v.e.Concerts(v.ctx)
			if err != nil {
				t.Fatal(err)
			}
			made, _, err := v.e.CreateConcert(v.ctx, engine.NewConcert{
				Title: c.title, Description: c.description,
				Schedules: []engine.NewSchedule{{Date: t0.AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: 5, Price: 100}},
			})
			if c.ok != (err == nil) {
				t.Fatalf("concert %s: err = %v, want ok=%v", c.name, err, c.ok)
			}
			after, err2 := v.e.Concerts(v.ctx)
			if err2 != nil {
				t.Fatal(err2)
			}
			if !c.ok {
				if !errors.Is(err, engine.ErrBadRequest) || len(after) != len(before) {
					t.Fatalf("concert %s: err = %v, concerts %d -> %d; want BAD_REQUEST and none made", c.name, err, len(before), len(after))
				}
				continue
			}
			var stored *engine.Concert
			for i := range after {
				if after[i].ID == made.ID {
					stored = &after[i]
				}
			}
			if stored == nil || stored.Title != c.title || stored.Description != c.description {
				t.Fatalf("concert %s: stored %+v, want the title and description as sent", c.name, stored)
			}
		}
	})
}

// FuzzFreeTextReachesTheLedger: whatever text the engine accepts as a name, an
// email, a title or a description, PostgreSQL stores; whatever it does not is BAD_REQUEST.
// Any other error is the class of bug that made a NUL a 500: input that passes
// validation and is refused by the database. Under go test the seeds run against
// a real PostgreSQL; `go test -fuzz FuzzFreeTextReachesTheLedger ./engine` explores.
func FuzzFreeTextReachesTheLedger(f *testing.F) {
	for _, s := range []string{
		"Kim", "김민수", " padded ", "a\x00b", "\xff\xfe", "a\u2028b", "😀", "\t", "e\u0301",
		"line\nbreak", "\u0085", "\ufeffbom", "\U0010ffff", strings.Repeat("김", 101),
		"kim@example.com", "\xff@example.com", "김@example.com", "a@\x00.com", "\"a b\"@example.com",
	} {
		f.Add(s)
	}
	rdb, prefix := storetest.Redis(f)
	l, err := pgstore.Open(context.Background(), storetest.Database(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(l.Close)
	s := redisstore.New(rdb, prefix, l)
	e := engine.New(engine.Config{Secret: secret}, clock.NewSimulated(t0), s.Roles(l))
	var seq atomic.Int64
	f.Fuzz(func(t *testing.T, text string) {
		ctx := context.Background()
		refusedOrStored := func(what string, err error) {
			if err != nil && !errors.Is(err, engine.ErrBadRequest) {
				t.Fatalf("%s %q: %v; want it stored or BAD_REQUEST", what, text, err)
			}
		}
		_, err := e.CreateUser(ctx, text, fmt.Sprintf("fuzz%d@example.com", seq.Add(1)), "")
		refusedOrStored("name", err)
		// The email is checked by its own rule (net/mail); a repeat is EMAIL_TAKEN.
		if _, err = e.CreateUser(ctx, "Kim", text, ""); !errors.Is(err, engine.ErrEmailTaken) {
			refusedOrStored("email", err)
		}
		sched := []engine.NewSchedule{{Date: t0.AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: 1, Price: 1}}
		_, _, err = e.CreateConcert(ctx, engine.NewConcert{Title: text, Schedules: sched})
		refusedOrStored("title", err)
		_, _, err = e.CreateConcert(ctx, engine.NewConcert{Title: "t", Description: text, Schedules: sched})
		refusedOrStored("description", err)
	})
}
