package redisstore

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

// purgeScan is how many keys one SCAN step asks for.
const purgeScan = 1000

// PurgeConcert deletes every key of a closed concert, UNLINKed a SCAN batch at a
// time (one slot, so one command each; see scanConcert), then records it in
// P:closed.
func (s *Store) PurgeConcert(ctx context.Context, concertID int64) error {
	err := s.scanConcert(ctx, concertID, func(node redis.Cmdable, batch []string) error {
		if err := node.Unlink(ctx, batch...).Err(); err != nil {
			return engine.Unavailable("redis", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.rdb.SAdd(ctx, s.keys.closed(), concertID).Err(); err != nil {
		return engine.Unavailable("redis", err)
	}
	return nil
}

// scanConcert SCANs for the concert's hash tag on the server that holds its slot
// (on Redis Cluster, the one master; elsewhere the whole keyspace, a rare cost)
// and hands fn each non-empty batch of keys with that server.
func (s *Store) scanConcert(ctx context.Context, concertID int64, fn func(node redis.Cmdable, batch []string) error) error {
	var node redis.Cmdable = s.rdb
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, s.keys.cfg(concertID))
		if err != nil {
			return engine.Unavailable("redis", err)
		}
		node = m
	}
	pattern := GlobEscape(s.keys.concert(concertID)) + "*"
	var cursor uint64
	for {
		batch, next, err := node.Scan(ctx, cursor, pattern, purgeScan).Result()
		if err != nil {
			return engine.Unavailable("redis", err)
		}
		if len(batch) > 0 {
			if err := fn(node, batch); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// Purged reports which of the concerts are recorded in P:closed.
func (s *Store) Purged(ctx context.Context, concertIDs []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(concertIDs))
	if len(concertIDs) == 0 {
		return out, nil
	}
	members := make([]any, len(concertIDs))
	for i, id := range concertIDs {
		members[i] = strconv.FormatInt(id, 10)
	}
	in, err := s.rdb.SMIsMember(ctx, s.keys.closed(), members...).Result()
	if err != nil {
		return nil, engine.Unavailable("redis", err)
	}
	for i, id := range concertIDs {
		out[id] = in[i]
	}
	return out, nil
}

// GlobEscape quotes the characters SCAN's MATCH treats as patterns.
func GlobEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
