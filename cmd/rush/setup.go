package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	concertd "github.com/concertd/concertd/client"
	"github.com/concertd/concertd/engine"
)

// runSetup prepares the server for one wrk measurement and writes the tokens it
// needs, one per line, to -out. It prints shell assignments (CONCERT_ID=...,
// SCHEDULE_ID=...) on stdout for bench/run.sh to eval.
//
//	poll     a concert admitting 1 per second with maxActive 1, -users WAITING tokens
//	hold     a -seats seat schedule and -users ACTIVE tokens (maxActive = users)
//	best     as hold, with -schedules schedules, each -seats seats laid out as an
//	         arena: 10 sections of rows of 50 (bench/wrk/best.lua asks for the
//	         best pair of each in turn, so seats last -schedules times longer);
//	         prints SCHEDULE_IDS too, comma-separated
//	seatmap  a -seats seat schedule, -users ACTIVE tokens, and -held seats held at
//	         random so the map (and its gzip) is not one repeated entry
//	pay      -users ACTIVE tokens with balance, each holding 4 seats of its own;
//	         lines are "<token> <reservationId> <price>", one per hold
//	issue    a concert (admitPerSecond 1, maxActive 1) and -users new users who
//	         have not entered it; lines are their user keys, in id order, for
//	         bench/wrk/issue.lua, which enters each of them (POST
//	         /api/users/token, the key as Bearer) once, in order.
//	         With -user-ids FIRST-LAST the users already exist (bench/run.sh
//	         inserts them with SQL, which is faster and leaves concertd's
//	         known-user cache cold) and only the concert is created.
func runSetup(args []string) error {
	fs := flag.NewFlagSet("rush setup", flag.ExitOnError)
	addr, adminKey := new(string), new(string)
	serverFlags(fs, addr, adminKey)
	mode := fs.String("mode", "poll", "poll | hold | best | seatmap | pay | issue")
	schedules := fs.Int("schedules", 1, "best mode: schedules of -seats seats each")
	users := fs.Int("users", 10000, "tokens to make")
	seats := fs.Int("seats", 100000, "seats of the schedule")
	held := fs.Int("held", 5000, "seatmap mode: seats to hold at random")
	out := fs.String("out", "tokens.txt", "token file to write")
	concurrency := fs.Int("concurrency", 64, "requests in flight")
	userIDs := fs.String("user-ids", "", "issue mode: FIRST-LAST, ids of users that already exist (none are created); their keys are signed with $TOKEN_SECRET, the server's")
	_ = fs.Parse(args)
	switch *mode {
	case "poll", "hold", "best", "seatmap", "pay", "issue":
	default:
		return fmt.Errorf("setup: unknown -mode %q", *mode)
	}

	// Creating a user is one PostgreSQL commit: allow for ~1,000 per second at worst.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+time.Duration(*users)*time.Millisecond)
	defer cancel()
	cl := newClient(*addr, *adminKey, *concurrency, newRecorder())
	start := time.Now()

	q := queueSettings{AdmitPerSecond: 1, MaxActive: 1}
	if *mode != "poll" && *mode != "issue" {
		q = queueSettings{AdmitPerSecond: min(max(*users, 100), 10000), MaxActive: *users}
	}
	dates := []schedule{{ConcertDate: start.AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: *seats, Price: 50000}}
	if *mode == "best" {
		dates = arena(start, *schedules, *seats)
	}
	concertID, scheduleIDs, err := cl.createConcert(ctx, "bench "+*mode+" "+start.Format(time.RFC3339Nano), q, dates...)
	if err != nil {
		return err
	}
	scheduleID := scheduleIDs[0]
	if *mode == "issue" {
		return setupIssue(ctx, cl, concertID, *users, *concurrency, *userIDs, *out, start)
	}
	tag := fmt.Sprintf("%s-%d", *mode, start.UnixNano())
	tokens, err := newcomers(ctx, cl, concertID, *users, *concurrency, func(i int) (string, string) {
		return fmt.Sprintf("bench %d", i), fmt.Sprintf("%s-%d@bench.invalid", tag, i)
	})
	if err != nil {
		return err
	}
	if *mode != "poll" {
		if err := waitAllActive(ctx, cl, tokens, *concurrency, 500*time.Millisecond); err != nil {
			return err
		}
	}
	if *mode == "seatmap" && *held > 0 {
		// Each user holds a share of random seats; a taken seat is just skipped.
		var mu sync.Mutex
		got := 0
		perm := rand.Perm(*seats)[:min(*held, *seats)]
		err = forEach(ctx, len(perm), *concurrency, func(ctx context.Context, i int) error {
			_, err := cl.api.Hold(ctx, tokens[i%len(tokens)], concertd.HoldRequest{ScheduleID: scheduleID, SeatNumber: perm[i] + 1})
			if concertd.StatusOf(err) == 0 && err != nil || concertd.StatusOf(err) >= 500 {
				return fmt.Errorf("hold: %w", err)
			}
			if err == nil {
				mu.Lock()
				got++
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "rush setup: %d of %d seats held\n", got, len(perm))
	}
	if *mode == "pay" {
		const perUser, price = 4, 50000
		holds, err := holdOwnSeats(ctx, cl, scheduleID, tokens, perUser, price, *concurrency)
		if err != nil {
			return err
		}
		lines := make([]string, len(holds))
		for j, h := range holds {
			lines[j] = fmt.Sprintf("%s %d %d", h.token, h.ReservationID, h.Price)
		}
		tokens = lines
	}
	if err := writeLines(*out, len(tokens), func(i int) string { return tokens[i] }); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "rush setup: mode %s, %d tokens in %s, concert %d, schedule %d (%d seats), took %s\n",
		*mode, len(tokens), *out, concertID, scheduleID, *seats, time.Since(start).Round(time.Millisecond))
	fmt.Printf("CONCERT_ID=%d\nSCHEDULE_ID=%d\n", concertID, scheduleID)
	if *mode == "best" {
		ids := make([]string, len(scheduleIDs))
		for i, id := range scheduleIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		fmt.Printf("SCHEDULE_IDS=%s\n", strings.Join(ids, ","))
	}
	return nil
}

// newcomers creates n users, concurrency at a time, each entering concertID's
// line; user i's name and email are naming(i). It returns their tokens in order.
func newcomers(ctx context.Context, cl *client, concertID int64, n, concurrency int, naming func(i int) (name, email string)) ([]string, error) {
	tokens := make([]string, n)
	err := forEach(ctx, n, concurrency, func(ctx context.Context, i int) error {
		name, email := naming(i)
		st, err := cl.newcomer(ctx, concertID, name, email)
		if err != nil {
			return err
		}
		tokens[i] = st.UserToken
		return nil
	})
	return tokens, err
}

// waitAllActive waits, concurrency at a time, until every token is ACTIVE,
// polling each at most every pollCap and for at most a minute.
func waitAllActive(ctx context.Context, cl *client, tokens []string, concurrency int, pollCap time.Duration) error {
	err := forEach(ctx, len(tokens), concurrency, func(ctx context.Context, i int) error {
		return cl.waitActive(ctx, tokens[i], pollCap, 60*time.Second)
	})
	if err != nil {
		return fmt.Errorf("waiting for ACTIVE: %w", err)
	}
	return nil
}

// ownHold is a hold of holdOwnSeats: its holder's token and the reservation.
type ownHold struct {
	token string
	concertd.Reservation
}

// holdOwnSeats charges each token perUser*price and has it hold perUser seats of
// its own (token i seats i*perUser+1 to (i+1)*perUser, so no two conflict),
// concurrency tokens at a time. The holds come in random order: paid in that
// order, users pay their holds in turn, not all at once (one user's concurrent
// payments would queue on the same balance row and measure that instead).
func holdOwnSeats(ctx context.Context, cl *client, scheduleID int64, tokens []string, perUser int, price int64, concurrency int) ([]ownHold, error) {
	holds := make([]ownHold, len(tokens)*perUser)
	err := forEach(ctx, len(tokens), concurrency, func(ctx context.Context, i int) error {
		if _, err := cl.api.Charge(ctx, tokens[i], concertd.ChargeRequest{Amount: int64(perUser) * price}); err != nil {
			return err
		}
		for k := 0; k < perUser; k++ {
			r, err := cl.api.Hold(ctx, tokens[i], concertd.HoldRequest{ScheduleID: scheduleID, SeatNumber: i*perUser + k + 1})
			if err != nil {
				return fmt.Errorf("hold: %w", err)
			}
			holds[i*perUser+k] = ownHold{tokens[i], r}
		}
		return nil
	})
	rand.Shuffle(len(holds), func(i, j int) { holds[i], holds[j] = holds[j], holds[i] })
	return holds, err
}

// arena returns n schedules on consecutive days, each of seats seats (rounded
// down to whole rows) in 10 sections of rows of 50 seats, dearer at the front.
func arena(start time.Time, n, seats int) []schedule {
	const sections, perRow = 10, 50
	rows := max(seats/(sections*perRow), 1)
	out := make([]schedule, n)
	for i := range out {
		out[i].ConcertDate = start.AddDate(0, 1, i).Format(time.DateOnly)
		for k := range sections {
			out[i].Sections = append(out[i].Sections, concertd.Section{
				Name: string(rune('A' + k)), Price: int64(90000 - 5000*k), Rows: rows, SeatsPerRow: perRow,
			})
		}
	}
	return out
}

// setupIssue writes the keys of users who have not entered concertID yet, one per
// line, creating the users through the API unless idRange ("FIRST-LAST") names
// users that exist. Those were never given a key: theirs are signed here with
// TOKEN_SECRET, which must be the server's (a user's first key is a function of
// the id and the secret; engine.SignUserKey).
func setupIssue(ctx context.Context, cl *client, concertID int64, users, concurrency int, idRange, out string, start time.Time) error {
	var ids []int64
	key := userKey
	if idRange != "" {
		secret := os.Getenv("TOKEN_SECRET")
		if secret == "" {
			return fmt.Errorf("setup: -user-ids needs TOKEN_SECRET, the server's, to sign the users' keys")
		}
		key = func(id int64) string { return engine.SignUserKey([]byte(secret), id, 1) }
		var first, last int64
		if _, err := fmt.Sscanf(idRange, "%d-%d", &first, &last); err != nil || first <= 0 || last < first {
			return fmt.Errorf("setup: -user-ids %q: want FIRST-LAST", idRange)
		}
		for id := first; id <= last; id++ {
			ids = append(ids, id)
		}
	} else {
		ids = make([]int64, users)
		tag := fmt.Sprintf("issue-%d", start.UnixNano())
		err := forEach(ctx, users, concurrency, func(ctx context.Context, i int) error {
			u, err := cl.api.CreateUser(ctx, concertd.CreateUserRequest{Name: fmt.Sprintf("bench %d", i), Email: fmt.Sprintf("%s-%d@bench.invalid", tag, i)})
			ids[i] = u.UserID
			userKeys.Store(u.UserID, u.UserKey)
			return err
		})
		if err != nil {
			return err
		}
		// In id order: the wrk script walks each thread's range in file order.
		slices.Sort(ids)
	}
	if err := writeLines(out, len(ids), func(i int) string { return key(ids[i]) }); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "rush setup: mode issue, %d user keys in %s, concert %d, took %s\n",
		len(ids), out, concertID, time.Since(start).Round(time.Millisecond))
	fmt.Printf("CONCERT_ID=%d\n", concertID)
	return nil
}

// writeLines writes n lines, line(i) each, to path.
func writeLines(path string, n int, line func(i int) string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ { // a bufio.Writer keeps its first error; Flush reports it
		_, _ = w.WriteString(line(i))
		_ = w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
