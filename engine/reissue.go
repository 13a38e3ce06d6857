package engine

import (
	"context"
	"time"
)

// reissueMargin is how much of its lifetime a token handed back on entry must
// still have: a user whose place in line outlived the token lifetime (a pre-queue
// opened days ahead, an idle-timeout longer than a day) would otherwise be given
// back a token that is already dead, or dies before their next poll.
const reissueMargin = time.Hour

// renewed returns the token record to sign for an entry: r itself, or, when r is
// the user's existing token and has less than reissueMargin of its lifetime left,
// the same place under a new generation issued now.
func (e *Engine) renewed(ctx context.Context, concertID, userID int64, r EnterResult, now time.Time) (EnterResult, bool, error) {
	if !r.Reused || now.Sub(r.IssuedAt) < e.cfg.TokenLifetime-min(reissueMargin, e.cfg.TokenLifetime/2) {
		return r, true, nil
	}
	ri := e.reissuer
	if ri == nil {
		return r, true, nil
	}
	gen, issued, ok, err := ri.Reissue(ctx, concertID, userID, r.Gen, now)
	if err != nil || !ok {
		return r, false, err
	}
	r.Gen, r.IssuedAt = gen, issued
	return r, true, nil
}
