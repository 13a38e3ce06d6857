package ledgertest

import (
	"context"
	"testing"
)

// IDBlocks is a ledger that hands out reservation id blocks (see
// store/redisstore.IDBlocks).
type IDBlocks interface {
	ReservationIDBlock(ctx context.Context) (first, size int64, err error)
}

// testReservationIDBlocks: blocks are positive and never overlap, even when
// asked for at once.
func testReservationIDBlocks(t *testing.T, l Ledger) {
	ids, ok := l.(IDBlocks)
	if !ok {
		t.Fatalf("%T hands out no reservation id blocks", l)
	}
	f := newFixture(t, l)
	type block struct{ first, size int64 }
	blocks := make([]block, 16)
	errs := AtOnce(len(blocks), func(i int) error {
		first, size, err := ids.ReservationIDBlock(f.ctx)
		blocks[i] = block{first, size}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range blocks {
		if b.size < 1 || b.first < 1 {
			t.Fatalf("block %d: size %d", i, b.size)
		}
		for j, c := range blocks[:i] {
			if b.first < c.first+c.size && c.first < b.first+b.size {
				t.Fatalf("blocks %d %+v and %d %+v overlap", i, b, j, c)
			}
		}
	}
}
