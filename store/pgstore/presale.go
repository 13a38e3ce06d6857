package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/concertd/concertd/engine"
)

var _ engine.PresaleLedger = (*Store)(nil)

// AddPresaleCodes sets the presale's end and stores the codes' hashes in one
// transaction, all of them in one statement however many there are.
func (s *Store) AddPresaleCodes(ctx context.Context, concertID int64, codes []engine.CodeHash, until time.Time) error {
	hashes := make([][]byte, len(codes))
	for i := range codes {
		hashes[i] = codes[i][:]
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO presales (concert_id, until) VALUES ($1, $2)
			ON CONFLICT (concert_id) DO UPDATE SET until = EXCLUDED.until`,
			concertID, until); err != nil {
			return err
		}
		// A hash already there is a code drawn twice (78 random bits: never in
		// practice); the one row serves both.
		_, err := tx.Exec(ctx, `
			INSERT INTO presale_codes (concert_id, code_hash)
			SELECT $1, h FROM unnest($2::bytea[]) AS h
			ON CONFLICT DO NOTHING`, concertID, hashes)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key: no such concert
		return engine.ErrConcertNotFound
	}
	return translate(err)
}

// PresaleUntil reads the presale's end; zero when the concert has none.
func (s *Store) PresaleUntil(ctx context.Context, concertID int64) (time.Time, error) {
	var until time.Time
	err := s.pool.QueryRow(ctx, `SELECT until FROM presales WHERE concert_id = $1`, concertID).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, translate(err)
	}
	return until.UTC(), nil
}

// EnterPresale answers in one statement. The conditional UPDATE is the race's
// judge: a second user's update of a row just bound re-reads it, finds user_id
// set to someone else, and updates nothing. The same user racing with the same
// code matches again and is let in twice, as they should be.
func (s *Store) EnterPresale(ctx context.Context, concertID, userID int64, code *engine.CodeHash) (bool, error) {
	var hash []byte
	if code != nil {
		hash = code[:]
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `
		WITH bound AS (
			SELECT 1 FROM presale_codes WHERE concert_id = $1 AND user_id = $2 LIMIT 1
		), claimed AS (
			UPDATE presale_codes SET user_id = $2, bound_at = now()
			WHERE concert_id = $1 AND code_hash = $3
				AND (user_id IS NULL OR user_id = $2)
				AND NOT EXISTS (SELECT 1 FROM bound)
			RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM bound) OR EXISTS (SELECT 1 FROM claimed)`,
		concertID, userID, hash).Scan(&ok)
	if err != nil {
		return false, translate(err)
	}
	return ok, nil
}
