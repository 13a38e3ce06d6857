package engine

import "context"

// Health says which dependency answers now, for the readiness gauges of /metrics.
func (e *Engine) Health(ctx context.Context) (sharedState, ledger bool) {
	return e.shared.Ping(ctx) == nil, e.ledger.Ping(ctx) == nil
}

// SaleOpen reports whether a concert's sale is open (see close.go): the metrics
// read per-concert counts of open concerts only.
func (e *Engine) SaleOpen(c Concert) bool { return !e.saleClosed(c) }
