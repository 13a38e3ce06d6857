package redisstore

import (
	"context"
	"testing"

	"github.com/concertd/concertd/store/storetest"
)

// TestPublishEvents: relayed outbox events land on the stream in order, with the
// outbox id a consumer deduplicates on.
func TestPublishEvents(t *testing.T) {
	rdb, prefix := storetest.Redis(t)
	s := New(rdb, prefix, nil)
	ctx := context.Background()
	if err := s.PublishEvents(ctx, nil); err != nil {
		t.Fatalf("no events: %v", err)
	}
	events := []Event{
		{ID: 41, Topic: "payment.completed", Payload: []byte(`{"paymentId":1}`)},
		{ID: 42, Topic: "payment.completed", Payload: []byte(`{"paymentId":2}`)},
	}
	if err := s.PublishEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.XRange(ctx, s.keys.events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(events) {
		t.Fatalf("%d stream entries, want %d", len(got), len(events))
	}
	for i, e := range events {
		v := got[i].Values
		if v["id"] != itoa(e.ID) || v["topic"] != e.Topic || v["payload"] != string(e.Payload) {
			t.Errorf("entry %d = %v, want %+v", i, v, e)
		}
	}
}
