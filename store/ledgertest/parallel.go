package ledgertest

import (
	"errors"
	"sync"
	"testing"
)

// AtOnce runs fn(i) for i in [0,n) on n goroutines released at once, to make the
// calls overlap as much as the scheduler allows, and returns their errors. The
// engine's tests race their attempts with it too.
func AtOnce(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// Count tallies errors by kind: nil, and each wanted sentinel; anything else
// fails the test.
func Count(t *testing.T, errs []error, kinds ...error) map[error]int {
	t.Helper()
	out := map[error]int{}
outer:
	for _, err := range errs {
		if err == nil {
			out[nil]++
			continue
		}
		for _, k := range kinds {
			if errors.Is(err, k) {
				out[k]++
				continue outer
			}
		}
		t.Errorf("unexpected error: %v", err)
	}
	return out
}
