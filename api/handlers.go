package api

import (
	"context"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/client"
	"github.com/concertd/concertd/engine"
)

// Where the client package has an answer's exact wire shape, the server encodes
// with that type: one definition for the server and its Go client.

// ---- users and the waiting room ----

func (s *Server) createUser(ctx context.Context, rc *fasthttp.RequestCtx) error {
	req, err := decodeCreateUser(rc.Request.Body())
	if err != nil {
		return err
	}
	key, err := idempotencyKey(rc)
	if err != nil {
		return err
	}
	id, err := s.e.CreateUser(ctx, req.Name, req.Email, key)
	if err != nil {
		return err
	}
	return writeValue(rc, fasthttp.StatusCreated, userKeyJSON{id, s.e.UserKey(id)})
}

func (s *Server) issueToken(ctx context.Context, rc *fasthttp.RequestCtx) error {
	req, err := decodeEnter(rc.Request.Body())
	if err != nil {
		return err
	}
	user, err := s.enteringUser(ctx, rc, req.UserID)
	if err != nil {
		return err
	}
	g, err := s.e.IssueTokenWith(ctx, user, req.ConcertID, req.Pass)
	if err != nil {
		return err
	}
	status := fasthttp.StatusCreated
	if g.Reused {
		status = fasthttp.StatusOK
	}
	b := bufPool.get()
	defer bufPool.put(b)
	b.b = append(b.b, `{"userToken":`...)
	b.b = appendString(b.b, g.Token)
	b.b = append(b.b, ',')
	b.b = appendStatusFields(b.b, g.Status)
	b.b = append(b.b, '}')
	writeJSON(rc, status, b.b)
	return nil
}

// queueStatus is the endpoint every waiting client polls, so it is the hot path:
// no reflection, one pooled buffer.
func (s *Server) queueStatus(ctx context.Context, rc *fasthttp.RequestCtx) error {
	t, err := s.token(rc)
	if err != nil {
		return err
	}
	q, err := s.e.Status(ctx, t)
	if err != nil {
		return err
	}
	b := bufPool.get()
	b.b = append(b.b, '{')
	b.b = appendStatusFields(b.b, q)
	b.b = append(b.b, '}')
	writeJSON(rc, fasthttp.StatusOK, b.b)
	bufPool.put(b)
	return nil
}

// ---- catalog ----

type concertListJSON struct {
	Concerts []client.Concert `json:"concerts"`
}

func concertList(list []engine.Concert) concertListJSON {
	out := make([]client.Concert, len(list))
	for i, c := range list {
		out[i] = client.Concert{ConcertID: c.ID, Title: c.Title, Description: c.Description, SaleOpensAt: instant(c.SaleOpensAt)}
	}
	return concertListJSON{out}
}

func (s *Server) concerts(ctx context.Context, rc *fasthttp.RequestCtx) error {
	list, err := s.e.Concerts(ctx)
	return reply(rc, fasthttp.StatusOK, list, err, concertList)
}

type scheduleListJSON struct {
	AvailableSchedules []client.Schedule `json:"availableSchedules"`
}

func scheduleList(list []engine.ScheduleAvailability) scheduleListJSON {
	out := make([]client.Schedule, len(list))
	for i, a := range list {
		out[i] = client.Schedule{
			ScheduleID: a.ID, ConcertID: a.ConcertID, ConcertTitle: a.ConcertTitle, ConcertDate: a.Date,
			TotalSeats: a.SeatCount, AvailableSeats: a.Available, Price: a.Price,
		}
	}
	return scheduleListJSON{out}
}

func (s *Server) schedules(ctx context.Context, rc *fasthttp.RequestCtx) error {
	var concertID int64
	if args := rc.QueryArgs(); args.Has("concertId") {
		id, ok := parseID(string(args.Peek("concertId")))
		if !ok {
			return engine.Errorf(engine.CodeBadRequest, "concertId must be a positive integer")
		}
		concertID = id
	}
	list, err := s.e.AvailableSchedules(ctx, concertID)
	return reply(rc, fasthttp.StatusOK, list, err, scheduleList)
}

// seatMap serves a shared, pre-encoded body: a 100,000-seat map is megabytes, and
// every admitted client asks for it at once.
func (s *Server) seatMap(ctx context.Context, rc *fasthttp.RequestCtx) error {
	t, id, err := s.tokenAndID(rc, "scheduleId")
	if err != nil {
		return err
	}
	v, err := s.e.SeatMap(ctx, t, id)
	if err != nil {
		return err
	}
	body := s.seatMaps.body(v)
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType(contentTypeJSON)
	rc.Response.Header.Set(fasthttp.HeaderVary, "Accept-Encoding")
	// SetBodyRaw: the cached bytes are immutable and shared, so fasthttp must not copy
	// or recycle them.
	if rc.Request.Header.HasAcceptEncoding("gzip") {
		rc.Response.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
		rc.Response.SetBodyRaw(body.Gzipped())
	} else {
		rc.Response.SetBodyRaw(body.Plain())
	}
	return nil
}

// ---- holds ----

type reservationJSON struct {
	ReservationID  int64  `json:"reservationId"`
	Status         string `json:"status"`
	ScheduleID     int64  `json:"concertScheduleId"`
	SeatNumber     int    `json:"seatNumber"`
	Price          int64  `json:"price"`
	ExpirationTime string `json:"expirationTime"`
}

func reservationView(r engine.Reservation) reservationJSON {
	return reservationJSON{
		ReservationID: r.ID, Status: string(r.State), ScheduleID: r.ScheduleID,
		SeatNumber: r.Seat, Price: r.Price, ExpirationTime: instant(r.ExpiresAt),
	}
}

func (s *Server) hold(ctx context.Context, rc *fasthttp.RequestCtx) error {
	t, req, err := checkThenBody(rc, s.token, decodeHold)
	if err != nil {
		return err
	}
	r, created, err := s.e.Hold(ctx, t, req.ScheduleID, req.Seat)
	if err != nil {
		return err
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	return writeValue(rc, status, reservationView(r))
}

// cancelledView is the answer of a cancel: the reservation as it is now.
func cancelledView(r engine.Reservation) reservationJSON {
	v := reservationView(r)
	v.Status = string(engine.ReservationCancelled)
	return v
}

// byReservationID authenticates the request, reads {reservationId}, then lets
// the engine's call do what the endpoint does to that reservation.
func (s *Server) byReservationID(ctx context.Context, rc *fasthttp.RequestCtx,
	call func(context.Context, engine.Token, int64) (engine.Reservation, error)) (engine.Reservation, error) {
	t, id, err := s.tokenAndID(rc, "reservationId")
	if err != nil {
		return engine.Reservation{}, err
	}
	return call(ctx, t, id)
}

func (s *Server) reservation(ctx context.Context, rc *fasthttp.RequestCtx) error {
	r, err := s.byReservationID(ctx, rc, s.e.Reservation)
	return reply(rc, fasthttp.StatusOK, r, err, reservationView)
}

func (s *Server) cancel(ctx context.Context, rc *fasthttp.RequestCtx) error {
	r, err := s.byReservationID(ctx, rc, s.e.Cancel)
	return reply(rc, fasthttp.StatusOK, r, err, cancelledView)
}

// ---- money ----

func chargedView(balance int64) client.Charged {
	return client.Charged{Status: "SUCCESS", CurrentBalance: balance}
}

func (s *Server) charge(ctx context.Context, rc *fasthttp.RequestCtx) error {
	t, err := s.walletUser(ctx, rc)
	if err != nil {
		return err
	}
	key, req, err := checkThenBody(rc, idempotencyKey, decodeCharge)
	if err != nil {
		return err
	}
	balance, err := s.e.Charge(ctx, t, req.Amount, key)
	return reply(rc, fasthttp.StatusOK, balance, err, chargedView)
}

type historyJSON struct {
	TransactionDate string `json:"transactionDate"`
	TransactionType string `json:"transactionType"`
	Amount          int64  `json:"amount"`
}

type balanceJSON struct {
	CurrentBalance int64         `json:"currentBalance"`
	BalanceHistory []historyJSON `json:"balanceHistory"`
}

func balanceView(v engine.BalanceView) balanceJSON {
	history := make([]historyJSON, len(v.History))
	for i, h := range v.History {
		history[i] = historyJSON{TransactionDate: instant(h.At), TransactionType: h.Type, Amount: h.Amount}
	}
	return balanceJSON{v.Balance, history}
}

func (s *Server) balance(ctx context.Context, rc *fasthttp.RequestCtx) error {
	t, err := s.walletUser(ctx, rc)
	if err != nil {
		return err
	}
	limit := 50
	if args := rc.QueryArgs(); args.Has("limit") {
		n, ok := parseID(string(args.Peek("limit")))
		if !ok || n > 200 {
			return engine.Errorf(engine.CodeBadRequest, "limit must be 1 to 200")
		}
		limit = int(n)
	}
	v, err := s.e.Balance(ctx, t, limit)
	return reply(rc, fasthttp.StatusOK, v, err, balanceView)
}

func (s *Server) pay(ctx context.Context, rc *fasthttp.RequestCtx) error {
	t, err := s.token(rc)
	if err != nil {
		return err
	}
	key, req, err := checkThenBody(rc, idempotencyKey, decodePay)
	if err != nil {
		return err
	}
	if req.ReservationIDs != nil {
		return s.payMany(ctx, rc, t, req, key)
	}
	sale, err := s.e.Pay(ctx, t, req.ReservationID, req.Amount, key)
	if err != nil {
		return err
	}
	return writeValue(rc, fasthttp.StatusCreated, struct {
		Status         string `json:"status"`
		PaymentID      int64  `json:"paymentId"`
		ReservationID  int64  `json:"reservationId"`
		Amount         int64  `json:"amount"`
		CurrentBalance int64  `json:"currentBalance"`
	}{"COMPLETED", sale.PaymentID, sale.ReservationID, sale.Amount, sale.Balance})
}

// idempotencyKey reads the optional Idempotency-Key header: 1 to 128 printable
// ASCII characters, because the key is stored and compared byte for byte.
func idempotencyKey(rc *fasthttp.RequestCtx) (string, error) {
	k := rc.Request.Header.Peek("Idempotency-Key")
	if len(k) == 0 {
		return "", nil
	}
	if len(k) > 128 {
		return "", engine.Errorf(engine.CodeBadRequest, "Idempotency-Key must be 1 to 128 printable ASCII characters")
	}
	for _, c := range k {
		if c < 0x20 || c > 0x7e {
			return "", engine.Errorf(engine.CodeBadRequest, "Idempotency-Key must be 1 to 128 printable ASCII characters")
		}
	}
	return string(k), nil
}

// ---- operators ----

func (s *Server) createConcert(ctx context.Context, rc *fasthttp.RequestCtx) error {
	nc, err := decodeCreateConcert(rc.Request.Body())
	if err != nil {
		return err
	}
	c, schedules, err := s.e.CreateConcert(ctx, nc)
	if err != nil {
		return err
	}
	ids := make([]int64, len(schedules))
	for i, x := range schedules {
		ids[i] = x.ID
	}
	return writeValue(rc, fasthttp.StatusCreated, client.CreatedConcert{ConcertID: c.ID, ScheduleIDs: ids})
}

func (s *Server) patchQueue(ctx context.Context, rc *fasthttp.RequestCtx) error {
	id, p, err := checkThenBody(rc, concertIDParam, decodeQueuePatch)
	if err != nil {
		return err
	}
	settings, err := s.e.PatchQueue(ctx, id, p)
	return reply(rc, fasthttp.StatusOK, settings, err, asIs)
}

func statsView(st engine.Stats) client.Stats {
	return client.Stats{Waiting: st.Waiting, Active: st.Active, AdmittedTotal: st.AdmittedTotal,
		Held: st.Held, Sold: st.Sold, SeatsTotal: st.SeatsTotal}
}

func (s *Server) stats(ctx context.Context, rc *fasthttp.RequestCtx) error {
	id, err := concertIDParam(rc)
	if err != nil {
		return err
	}
	st, err := s.e.Stats(ctx, id)
	return reply(rc, fasthttp.StatusOK, st, err, statsView)
}

// ---- service ----

func (s *Server) healthz(_ context.Context, rc *fasthttp.RequestCtx) error {
	writeJSON(rc, fasthttp.StatusOK, []byte(`{"status":"ok"}`))
	return nil
}

func (s *Server) readyz(ctx context.Context, rc *fasthttp.RequestCtx) error {
	if down := s.e.Down(ctx); len(down) > 0 {
		// The answer names what is down and nothing more: anyone can call this
		// endpoint, and an address or a driver's message helps only an attacker.
		// The cause is in the log of the request that met it.
		s.log.Warn().Strs("down", down).Msg("not ready")
		rc.Response.Header.Set("Retry-After", "1")
		return writeValue(rc, fasthttp.StatusServiceUnavailable, struct {
			Code    engine.Code `json:"code"`
			Message string      `json:"message"`
			Down    []string    `json:"down"`
		}{engine.CodeUnavailable, strings.Join(down, ", ") + " down", down})
	}
	writeJSON(rc, fasthttp.StatusOK, []byte(`{"status":"ready"}`))
	return nil
}

// reply answers with view(v) as JSON once err, the error of the engine call that
// gave v, is nil.
func reply[V, J any](rc *fasthttp.RequestCtx, status int, v V, err error, view func(V) J) error {
	if err != nil {
		return err
	}
	return writeValue(rc, status, view(v))
}

// asIs is the view of a value whose JSON is the answer.
func asIs[V any](v V) V { return v }

// checkThenBody runs check on what the request carries outside its body (a
// credential, a header, a path id), then decodes the body, in that order: a
// request wrong in both is refused for what check reads.
func checkThenBody[A, R any](rc *fasthttp.RequestCtx, check func(*fasthttp.RequestCtx) (A, error), decode func([]byte) (R, error)) (A, R, error) {
	var req R
	a, err := check(rc)
	if err == nil {
		req, err = decode(rc.Request.Body())
	}
	return a, req, err
}

// concertIDParam reads the {concertId} path parameter.
func concertIDParam(rc *fasthttp.RequestCtx) (int64, error) {
	return pathID(rc, "concertId")
}

// pathID reads a positive integer path parameter.
func pathID(rc *fasthttp.RequestCtx, name string) (int64, error) {
	v, _ := rc.UserValue(name).(string)
	id, ok := parseID(v)
	if !ok {
		return 0, engine.Errorf(engine.CodeBadRequest, "%s must be a positive integer", name)
	}
	return id, nil
}
