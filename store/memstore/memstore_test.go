package memstore_test

import (
	"testing"

	"github.com/concertd/concertd/store/ledgertest"
	"github.com/concertd/concertd/store/memstore"
)

var _ ledgertest.Purger = (*memstore.Store)(nil)

func TestLedger(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Ledger { return memstore.New() })
}
