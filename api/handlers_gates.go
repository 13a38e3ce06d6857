package api

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

type challengeJSON struct {
	Challenge string `json:"challenge"`
	Bits      int    `json:"bits"`
	ExpiresAt string `json:"expiresAt"`
}

func challengeView(c engine.Challenge) challengeJSON {
	return challengeJSON{c.Value, c.Bits, instant(c.ExpiresAt)}
}

// challenge is GET /api/queue/challenge?concertId=N: a signed proof-of-work
// challenge that costs the server no state until it is used.
func (s *Server) challenge(ctx context.Context, rc *fasthttp.RequestCtx) error {
	id, ok := parseID(string(rc.QueryArgs().Peek("concertId")))
	if !ok {
		return engine.Errorf(engine.CodeBadRequest, "concertId must be a positive integer")
	}
	c, err := s.e.Challenge(ctx, id)
	return reply(rc, fasthttp.StatusOK, c, err, challengeView)
}

type presaleJSON struct {
	Codes []string `json:"codes"`
}

func presaleView(codes []string) presaleJSON { return presaleJSON{codes} }

// createPresale is POST /api/admin/concerts/{concertId}/presale.
func (s *Server) createPresale(ctx context.Context, rc *fasthttp.RequestCtx) error {
	id, req, err := checkThenBody(rc, concertIDParam, decodePresale)
	if err != nil {
		return err
	}
	codes, err := s.e.CreatePresaleCodes(ctx, id, req.Count, req.Until)
	return reply(rc, fasthttp.StatusCreated, codes, err, presaleView)
}
