package engine

import (
	"sync"
	"testing"
)

func TestUserSet(t *testing.T) {
	var s userSet
	added := []int64{0, 1, 63, 64, 65535, 65536, 1<<28 - 1, 1 << 28, 1 << 40, -1}
	absent := []int64{2, 62, 65, 65534, 65537, 1<<28 - 2, 1<<28 + 1, -2}
	for _, id := range added {
		s.add(id)
	}
	for _, id := range added {
		if !s.has(id) {
			t.Errorf("%d added but not found", id)
		}
	}
	for _, id := range absent {
		if s.has(id) {
			t.Errorf("%d found but never added", id)
		}
	}
}

// TestUserSetConcurrent: writers racing on the same chunks and words lose no bit.
func TestUserSetConcurrent(t *testing.T) {
	var s userSet
	const writers, per = 16, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				id := int64(i*writers + w) // interleaved: neighbours share words
				s.add(id)
				if !s.has(id) {
					t.Errorf("%d missing right after add", id)
					return
				}
			}
		})
	}
	wg.Wait()
	for id := int64(0); id < writers*per; id++ {
		if !s.has(id) {
			t.Fatalf("%d lost", id)
		}
	}
	if s.has(writers * per) {
		t.Fatal("an id nobody added is present")
	}
}
