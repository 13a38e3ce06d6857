package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/store/storetest"
	"github.com/concertd/concertd/test/rushtest"
)

// TestPaymentEventReachesStream: a committed payment's outbox row is relayed by the
// running server to the P:events stream, carrying the reservation it paid.
func TestPaymentEventReachesStream(t *testing.T) {
	t.Parallel()
	_, cfg, c, ctx := startClient(t)
	sl := newSale(t, ctx, c, 5, 2)
	rid := sl.reservationID
	mustDo(t, ctx, c, 201, "", "POST", "/api/payments", map[string]any{"reservationId": rid, "paymentAmount": 1000}, rushtest.Bearer(sl.buyer.token)...)

	rdb, _ := storetest.Redis(t) // the Redis testConfig names
	eventually(t, 10*time.Second, func() string {
		entries, err := rdb.XRange(ctx, cfg.RedisPrefix+":events", "-", "+").Result()
		if err != nil {
			return err.Error()
		}
		for _, e := range entries {
			if p, _ := e.Values["payload"].(string); e.Values["topic"] == "payment.completed" &&
				containsField(p, "reservationId", strconv.FormatInt(rid, 10)) {
				return ""
			}
		}
		return "no payment.completed event for reservation " + strconv.FormatInt(rid, 10) + " yet"
	})
}

// containsField reports whether a JSON object text has "name":value.
func containsField(json, name, value string) bool {
	return strings.Contains(json, `"`+name+`":`+value) || strings.Contains(json, `"`+name+`": `+value)
}
