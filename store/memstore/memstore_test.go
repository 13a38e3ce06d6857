package memstore_test

import (
	"testing"

	"github.com/concertd/concertd/store/ledgertest"
	"github.com/concertd/concertd/store/memstore"
)

// Store is a whole ledger (every engine ledger role, and what redisstore reads to
// rebuild Redis) that forgets old idempotency keys.
var (
	_ ledgertest.Ledger = (*memstore.Store)(nil)
	_ ledgertest.Purger = (*memstore.Store)(nil)
)

func TestLedger(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Ledger { return memstore.New() })
}
