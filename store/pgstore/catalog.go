package pgstore

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/concertd/concertd/engine"
)

const dateLayout = "2006-01-02"

// CreateConcert stores a concert and its schedules in one transaction.
func (s *Store) CreateConcert(ctx context.Context, c engine.NewConcert) (engine.Concert, []engine.Schedule, error) {
	dates := make([]time.Time, len(c.Schedules))
	c.Schedules = slices.Clone(c.Schedules)
	for i, ns := range c.Schedules {
		ns = ns.Resolved()
		c.Schedules[i] = ns
		d, err := engine.ParseConcertDate(i, ns.Date)
		if err != nil {
			return engine.Concert{}, nil, err
		}
		if ns.SeatCount < 1 || ns.SeatCount > engine.MaxSeatCount || ns.Price < 1 {
			return engine.Concert{}, nil, engine.Errorf(engine.CodeBadRequest, "schedule %d: seatCount or price out of range", i)
		}
		dates[i] = d
	}
	out := engine.Concert{
		Title:       c.Title,
		Description: c.Description,
		SaleOpensAt: c.SaleOpensAt.UTC().Truncate(time.Microsecond), // what timestamptz keeps
		Queue:       c.Queue,
	}
	var scheds []engine.Schedule
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO concerts (title, description, sale_opens_at, admit_per_second, max_active, paused,
				proof_of_work_bits, max_tickets_per_user)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			c.Title, c.Description, out.SaleOpensAt, c.Queue.AdmitPerSecond, c.Queue.MaxActive, c.Queue.Paused,
			c.Queue.ProofOfWorkBits, c.Queue.MaxTicketsPerUser,
		).Scan(&out.ID)
		if err != nil {
			return err
		}
		// One round trip for all schedules however many there are.
		b := &pgx.Batch{}
		for i, ns := range c.Schedules {
			b.Queue(`INSERT INTO schedules (concert_id, concert_date, seat_count, price)
				VALUES ($1, $2, $3, $4) RETURNING id`, out.ID, dates[i], ns.SeatCount, ns.Price)
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		scheds = make([]engine.Schedule, len(c.Schedules))
		for i, ns := range c.Schedules {
			scheds[i] = engine.Schedule{
				ConcertID: out.ID, ConcertTitle: c.Title, Date: ns.Date,
				SeatCount: ns.SeatCount, Price: ns.Price, Sections: slices.Clone(ns.Sections),
			}
			if err := br.QueryRow().Scan(&scheds[i].ID); err != nil {
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		return insertSections(ctx, tx, scheds)
	})
	if err != nil {
		return engine.Concert{}, nil, translate(err)
	}
	return out, scheds, nil
}

// Catalog returns every concert and every schedule, each ordered by id. Both reads
// share one snapshot so no schedule can name a concert the list lacks.
func (s *Store) Catalog(ctx context.Context) ([]engine.Concert, []engine.Schedule, error) {
	concerts := []engine.Concert{}
	scheds := []engine.Schedule{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id, title, description, sale_opens_at, admit_per_second, max_active, paused,
				proof_of_work_bits, closed_at IS NOT NULL, max_tickets_per_user
			FROM concerts ORDER BY id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c engine.Concert
			if err := rows.Scan(&c.ID, &c.Title, &c.Description, &c.SaleOpensAt,
				&c.Queue.AdmitPerSecond, &c.Queue.MaxActive, &c.Queue.Paused,
				&c.Queue.ProofOfWorkBits, &c.Queue.Closed, &c.Queue.MaxTicketsPerUser); err != nil {
				return err
			}
			c.SaleOpensAt = c.SaleOpensAt.UTC()
			concerts = append(concerts, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			SELECT s.id, s.concert_id, c.title, s.concert_date, s.seat_count, s.price
			FROM schedules s JOIN concerts c ON c.id = s.concert_id ORDER BY s.id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				sc engine.Schedule
				d  time.Time
			)
			if err := rows.Scan(&sc.ID, &sc.ConcertID, &sc.ConcertTitle, &d, &sc.SeatCount, &sc.Price); err != nil {
				return err
			}
			sc.Date = d.Format(dateLayout)
			scheds = append(scheds, sc)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return readSections(ctx, tx, scheds)
	})
	if err != nil {
		return nil, nil, translate(err)
	}
	return concerts, scheds, nil
}

// SaveQueueSettings persists a concert's queue settings; engine.ErrConcertNotFound if
// none. A closed sale stays closed (closed_at keeps its first instant).
func (s *Store) SaveQueueSettings(ctx context.Context, concertID int64, q engine.QueueSettings) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE concerts SET admit_per_second = $2, max_active = $3, paused = $4,
			proof_of_work_bits = $5,
			closed_at = CASE WHEN $6 THEN coalesce(closed_at, now()) ELSE closed_at END,
			max_tickets_per_user = $7
		 WHERE id = $1`,
		concertID, q.AdmitPerSecond, q.MaxActive, q.Paused, q.ProofOfWorkBits, q.Closed, q.MaxTicketsPerUser)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return engine.ErrConcertNotFound
	}
	return nil
}

// insertSections stores the layouts of schedules given with sections, in one
// round trip; a schedule given as seatCount stores none (see 004_sections).
func insertSections(ctx context.Context, tx pgx.Tx, scheds []engine.Schedule) error {
	var rows [][]any
	for _, sc := range scheds {
		for i, sec := range sc.Sections {
			rows = append(rows, []any{sc.ID, i + 1, sec.Name, sec.Price, sec.Rows, sec.SeatsPerRow})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"schedule_sections"},
		[]string{"schedule_id", "position", "name", "price", "rows", "seats_per_row"}, pgx.CopyFromRows(rows))
	return err
}

// readSections fills the Sections of schedules that have a layout, in order.
func readSections(ctx context.Context, tx pgx.Tx, scheds []engine.Schedule) error {
	rows, err := tx.Query(ctx, `
		SELECT schedule_id, name, price, rows, seats_per_row
		FROM schedule_sections ORDER BY schedule_id, position`)
	if err != nil {
		return err
	}
	defer rows.Close()
	at := make(map[int64]int, len(scheds))
	for i, sc := range scheds {
		at[sc.ID] = i
	}
	for rows.Next() {
		var (
			id  int64
			sec engine.Section
		)
		if err := rows.Scan(&id, &sec.Name, &sec.Price, &sec.Rows, &sec.SeatsPerRow); err != nil {
			return err
		}
		if i, ok := at[id]; ok {
			scheds[i].Sections = append(scheds[i].Sections, sec)
		}
	}
	return rows.Err()
}
