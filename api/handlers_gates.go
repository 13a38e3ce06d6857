package api

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// challenge is GET /api/queue/challenge?concertId=N: a signed proof-of-work
// challenge that costs the server no state until it is used.
func (s *Server) challenge(ctx context.Context, rc *fasthttp.RequestCtx) error {
	id, ok := parseID(string(rc.QueryArgs().Peek("concertId")))
	if !ok {
		return engine.Errorf(engine.CodeBadRequest, "concertId must be a positive integer")
	}
	c, err := s.e.Challenge(ctx, id)
	if err != nil {
		return err
	}
	return writeValue(rc, fasthttp.StatusOK, struct {
		Challenge string `json:"challenge"`
		Bits      int    `json:"bits"`
		ExpiresAt string `json:"expiresAt"`
	}{c.Value, c.Bits, instant(c.ExpiresAt)})
}

// createPresale is POST /api/admin/concerts/{concertId}/presale.
func (s *Server) createPresale(ctx context.Context, rc *fasthttp.RequestCtx) error {
	id, err := pathID(rc, "concertId")
	if err != nil {
		return err
	}
	req, err := decodePresale(rc.Request.Body())
	if err != nil {
		return err
	}
	codes, err := s.e.CreatePresaleCodes(ctx, id, req.Count, req.Until)
	if err != nil {
		return err
	}
	return writeValue(rc, fasthttp.StatusCreated, struct {
		Codes []string `json:"codes"`
	}{codes})
}
