package redisstore

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Event is one committed ledger event to publish.
type Event struct {
	ID      int64
	Topic   string
	Payload []byte
}

// eventsMaxLen bounds the stream: consumers that fall further behind than this
// read the ledger's outbox instead.
const eventsMaxLen = 100_000

// PublishEvents appends events to the P:events stream in one round trip. The relay
// may publish an event twice after a crash (at least once); the outbox id field
// lets consumers drop duplicates.
func (s *Store) PublishEvents(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range events {
			p.XAdd(ctx, &redis.XAddArgs{
				Stream: s.keys.events(),
				MaxLen: eventsMaxLen,
				Approx: true,
				Values: []any{"id", strconv.FormatInt(e.ID, 10), "topic", e.Topic, "payload", e.Payload},
			})
		}
		return nil
	})
	return domainError("publish events", err)
}
