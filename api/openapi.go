package api

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// The OpenAPI document is built from Go tables rather than kept as a hand-written
// JSON file so that each error answer takes its status from statusOf, the same
// table writeError uses: the document cannot give a code a status the server
// never answers with. openapi_test.go checks the operations against the router.

type authKind int

const (
	authNone authKind = iota
	authBearer
	authAdmin
)

type param struct {
	name, in, desc string
	schema         obj
	required       bool
}

type answer struct {
	status int
	schema string // a components.schemas name; "" for an answer without a body
	desc   string
}

// operation is one route of API.md.
type operation struct {
	method, path string
	tag          string
	summary      string
	desc         string
	auth         authKind
	params       []param
	body         string // request schema name
	ok           []answer
	errs         []engine.Code
	// idempotent POSTs take the Idempotency-Key header.
	idempotent bool
}

// obj keeps the builders below short; the document is plain JSON.
type obj = map[string]any

var (
	intID    = obj{"type": "integer", "format": "int64", "minimum": 1}
	won      = obj{"type": "integer", "format": "int64", "description": "won"}
	instantT = obj{"type": "string", "format": "date-time", "example": "2026-11-24T10:15:00Z"}
	dateT    = obj{"type": "string", "format": "date", "example": "2026-12-24"}
	str      = obj{"type": "string"}
	boolT    = obj{"type": "boolean"}
	count    = obj{"type": "integer", "format": "int64", "minimum": 0}
)

func pathParam(name, desc string) param {
	return param{name: name, in: "path", desc: desc, schema: intID, required: true}
}

// Every endpoint may answer these: handle() checks every body against the limit,
// the rate limiter stands before every route, and any dependency can be down.
var commonErrs = []engine.Code{engine.CodeBodyTooLarge, engine.CodeRateLimited, engine.CodeUnavailable, engine.CodeInternal}

var tokenErrs = []engine.Code{engine.CodeTokenMissing, engine.CodeTokenInvalid, engine.CodeTokenExpired}

// activeErrs are the answers of an endpoint that needs an ACTIVE token.
var activeErrs = append(slices.Clone(tokenErrs), engine.CodeNotAdmitted, engine.CodeWrongConcert)

// holdErrs are the answers of a hold endpoint; taken is how it says the seats
// it asked for are gone.
func holdErrs(taken engine.Code) []engine.Code {
	return codes([]engine.Code{engine.CodeBadRequest, engine.CodeInvalidSeat}, activeErrs,
		[]engine.Code{engine.CodeScheduleNotFound, taken, engine.CodeHoldLimitReached,
			engine.CodeTicketLimitReached, engine.CodeSaleClosed})
}

// reservationErrs are the answers of an endpoint on one of the user's
// reservations, more the ones it adds.
func reservationErrs(more ...engine.Code) []engine.Code {
	return codes([]engine.Code{engine.CodeBadRequest}, tokenErrs, []engine.Code{engine.CodeReservationNotFound}, more)
}

// The path parameters of the endpoints on one reservation and on one concert.
var (
	reservationParams = []param{pathParam("reservationId", "the reservation")}
	concertParams     = []param{pathParam("concertId", "the concert")}
)

// adminConcertErrs are the answers of an operator endpoint on one concert.
var adminConcertErrs = []engine.Code{engine.CodeBadRequest, engine.CodeAdminOnly, engine.CodeConcertNotFound}

// newOrExisting are the answers of an endpoint that makes something once: 201
// with the new one, 200 with the one the user already had.
func newOrExisting(schema, created, existing string) []answer {
	return []answer{{201, schema, created}, {200, schema, existing}}
}

func codes(groups ...[]engine.Code) []engine.Code {
	var out []engine.Code
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

var operations = []operation{
	{
		method: "POST", path: "/api/users", tag: "waiting room", summary: "Create a user",
		desc: "Idempotency-Key is concertd's addition to the contract: a creation whose answer was lost " +
			"can be retried with its key and gets the same user back (201) rather than EMAIL_TAKEN.",
		idempotent: true,
		body:       "CreateUserRequest",
		ok:         []answer{{201, "UserKey", "the new user and its key (the same key on a retry with the Idempotency-Key)"}},
		errs:       []engine.Code{engine.CodeBadRequest, engine.CodeEmailTaken, engine.CodeIdempotencyKeyReused},
	},
	{
		method: "POST", path: "/api/users/token", tag: "waiting room", summary: "Enter a concert's waiting room",
		desc: "Gives the user a token and a place in line. A user who already holds a live token for that " +
			"concert gets that same token back with 200: one place in line per user per concert. " +
			"Bearer: the user key (or an identity token from the site's own login, when configured); " +
			"a `userId` in the body must be the credential's user.",
		auth: authBearer,
		body: "EnterRequest",
		ok:   newOrExisting("TokenGrant", "a new token, usually WAITING", "the live token the user already had"),
		errs: codes([]engine.Code{engine.CodeBadRequest}, tokenErrs, []engine.Code{engine.CodeUserNotFound, engine.CodeConcertNotFound,
			engine.CodeProofRequired, engine.CodeProofInvalid, engine.CodeNotInvited, engine.CodeSaleClosed}),
	},
	{
		method: "POST", path: "/api/users/key", tag: "waiting room", summary: "Rotate the user key",
		desc: "Bearer: the current user key. Answers a new key; the old one stops working on every " +
			"instance within 1 s.",
		auth: authBearer,
		ok:   []answer{{200, "UserKey", "the user and its new key"}},
		errs: codes(tokenErrs),
	},
	{
		method: "GET", path: "/api/queue/challenge", tag: "waiting room", summary: "A proof-of-work challenge for entering",
		desc: "Signed, good for 5 minutes, stored nowhere until used; one challenge enters one user once. " +
			"Solve it and send it as `proof` to POST /api/users/token.",
		params: []param{{name: "concertId", in: "query", desc: "the concert", schema: intID, required: true}},
		ok:     []answer{{200, "Challenge", "a fresh challenge at the concert's current bits"}},
		errs:   []engine.Code{engine.CodeBadRequest, engine.CodeConcertNotFound},
	},
	{
		method: "GET", path: "/api/queue/status", tag: "waiting room", summary: "Poll the token's place in line",
		desc: "Also the waiting token's heartbeat: a WAITING token that does not poll at least once per " +
			"idleTimeout (default 120 s) expires. Poll again after pollAfterSeconds. `position` is absent " +
			"in the pre-queue (before saleOpensAt), where `saleOpensAt` is given instead.",
		auth: authBearer,
		ok:   []answer{{200, "QueueStatus", "WAITING with position, ACTIVE with expiresAt, or DONE"}},
		// BAD_REQUEST: a body userToken that is not a string.
		errs: codes([]engine.Code{engine.CodeBadRequest}, tokenErrs),
	},
	{
		method: "GET", path: "/api/concerts", tag: "catalog", summary: "List concerts",
		ok: []answer{{200, "ConcertList", "every concert"}},
	},
	{
		method: "GET", path: "/api/concerts/schedules", tag: "catalog", summary: "List upcoming schedules with free seats",
		desc:   "Schedules dated today or later that have at least one available seat, by date.",
		params: []param{{name: "concertId", in: "query", desc: "only this concert's schedules", schema: intID}},
		ok:     []answer{{200, "ScheduleList", "available schedules by date"}},
		errs:   []engine.Code{engine.CodeBadRequest},
	},
	{
		method: "GET", path: "/api/concerts/schedules/{scheduleId}/seats", tag: "catalog", summary: "A schedule's seat map",
		desc:   "Every seat of the schedule by number: `available`, `pending` (held) or `reserved` (sold). Needs an ACTIVE token.",
		auth:   authBearer,
		params: []param{pathParam("scheduleId", "the schedule")},
		ok:     []answer{{200, "SeatMap", "every seat"}},
		errs:   codes([]engine.Code{engine.CodeBadRequest}, activeErrs, []engine.Code{engine.CodeScheduleNotFound}),
	},
	{
		method: "POST", path: "/api/reservations", tag: "holds", summary: "Hold a seat",
		desc: "The hold lasts holdTtl (default 5 min). Holding a seat the same user already holds returns " +
			"that reservation with 200. A user holds at most maxHoldsPerUser (default 4) seats of one concert.",
		auth: authBearer,
		body: "HoldRequest",
		ok:   newOrExisting("Reservation", "the new hold", "the user's existing hold on that seat"),
		errs: holdErrs(engine.CodeSeatTaken),
	},
	{
		method: "POST", path: "/api/reservations/best", tag: "holds", summary: "Hold the best seats side by side",
		desc: "Holds `quantity` (1 to maxHoldsPerUser) adjacent seats of one row in one atomic step: the first " +
			"section in the schedule's order that has such a run (or the one named), its front-most row that " +
			"has one; within that row a run that leaves no lone free seat is preferred whenever one exists, and " +
			"among those the run whose middle is nearest the row's middle (a tie goes to the left). A section " +
			"name the schedule lacks is INVALID_SEAT.",
		auth: authBearer,
		body: "BestRequest",
		ok:   []answer{{201, "BestReservations", "one new hold per seat, in seat order"}},
		errs: holdErrs(engine.CodeSeatsUnavailable),
	},
	{
		method: "GET", path: "/api/reservations/{reservationId}", tag: "holds", summary: "Read one of the user's reservations",
		desc:   "Another user's reservation answers RESERVATION_NOT_FOUND.",
		auth:   authBearer,
		params: reservationParams,
		ok:     []answer{{200, "Reservation", "the reservation"}},
		errs:   reservationErrs(),
	},
	{
		method: "DELETE", path: "/api/reservations/{reservationId}", tag: "holds", summary: "Give a pending hold back",
		desc:   "The seat is available again at once.",
		auth:   authBearer,
		params: reservationParams,
		ok:     []answer{{200, "CancelledReservation", "the hold is cancelled"}},
		errs:   reservationErrs(engine.CodeAlreadyPaid, engine.CodeReservationExpired),
	},
	{
		method: "POST", path: "/api/users/balance/charge", tag: "money", summary: "Add money to the balance",
		desc: "1 to 10,000,000 won per charge; a balance never exceeds 1,000,000,000. Bearer: the user key, " +
			"an identity token, or a user token in any state but forged, for 24 hours after issue.",
		auth: authBearer, idempotent: true,
		body: "ChargeRequest",
		ok:   []answer{{200, "ChargeResult", "the new balance"}},
		errs: codes([]engine.Code{engine.CodeBadRequest, engine.CodeInvalidAmount}, tokenErrs, []engine.Code{engine.CodeIdempotencyKeyReused}),
	},
	{
		method: "GET", path: "/api/users/balance", tag: "money", summary: "Balance and history, newest first",
		auth: authBearer,
		params: []param{{name: "limit", in: "query", desc: "history rows to return",
			schema: obj{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}},
		ok:   []answer{{200, "Balance", "balance and history"}},
		errs: codes([]engine.Code{engine.CodeBadRequest}, tokenErrs),
	},
	{
		method: "POST", path: "/api/payments", tag: "money", summary: "Pay for held seats",
		desc: "In one step that cannot half-happen: the balance goes down by the seat's price, the seat is " +
			"sold for good and the hold ends. When the user holds nothing else pending on the concert the " +
			"token becomes DONE. RESERVATION_EXPIRED charges nothing. Several holds are paid together with " +
			"`reservationIds` and the sum of their prices: all or nothing, one payment; a reservation that " +
			"cannot be paid refuses the whole payment with its error and the others stay PENDING.",
		auth: authBearer, idempotent: true,
		body: "PaymentRequest",
		ok:   []answer{{201, "Payment", "the completed payment"}},
		errs: codes([]engine.Code{engine.CodeBadRequest, engine.CodeAmountMismatch}, activeErrs,
			[]engine.Code{engine.CodeInsufficientBalance, engine.CodeReservationNotFound, engine.CodeAlreadyPaid,
				engine.CodeReservationExpired, engine.CodeIdempotencyKeyReused}),
	},
	{
		method: "POST", path: "/api/admin/concerts", tag: "operators", summary: "Create a concert with its schedules",
		auth: authAdmin,
		body: "CreateConcertRequest",
		ok:   []answer{{201, "CreateConcertResponse", "the new concert and schedule ids"}},
		errs: []engine.Code{engine.CodeBadRequest, engine.CodeAdminOnly},
	},
	{
		method: "PATCH", path: "/api/admin/concerts/{concertId}/queue", tag: "operators", summary: "Change a concert's queue settings",
		desc: "Takes effect within one second on every instance. closed: true ends the sale for good: new " +
			"entries and holds are 410 SALE_CLOSED, pending holds are released, waiting tokens answer 401 " +
			"TOKEN_EXPIRED; what was sold and paid stays. A concert also closes by itself the day after its " +
			"last schedule's date.",
		auth:   authAdmin,
		params: concertParams,
		body:   "QueuePatch",
		ok:     []answer{{200, "QueueSettings", "the settings now in force"}},
		errs:   append(slices.Clone(adminConcertErrs), engine.CodeSaleClosed),
	},
	{
		method: "GET", path: "/api/admin/concerts/{concertId}/stats", tag: "operators", summary: "A concert's queue and seat counts",
		auth:   authAdmin,
		params: concertParams,
		ok:     []answer{{200, "Stats", "live counts"}},
		errs:   adminConcertErrs,
	},
	{
		method: "POST", path: "/api/admin/concerts/{concertId}/presale", tag: "operators", summary: "Make presale codes",
		desc: "count new single-use codes (only their hashes are kept), and the presale now ends at until. " +
			"A code belongs to the first user who enters with it.",
		auth:   authAdmin,
		params: concertParams,
		body:   "PresaleRequest",
		ok:     []answer{{201, "PresaleCodes", "the new codes, shown once"}},
		errs:   adminConcertErrs,
	},
	{
		method: "GET", path: "/healthz", tag: "service", summary: "Liveness",
		ok: []answer{{200, "Health", "the process runs"}},
	},
	{
		method: "GET", path: "/readyz", tag: "service", summary: "Readiness: Redis and the database answer",
		desc: "503 UNAVAILABLE names what is down in `down` (`redis`, `database`) and nothing more: " +
			"no address, no driver message.",
		ok: []answer{{200, "Health", "ready"}},
	},
	{
		method: "GET", path: "/metrics", tag: "service", summary: "Prometheus metrics",
		ok: []answer{{200, "", "Prometheus text exposition format"}},
	},
	{
		method: "GET", path: "/openapi.json", tag: "service", summary: "This document",
		ok: []answer{{200, "", "OpenAPI 3 document"}},
	},
}

func errorAnswers(cs []engine.Code) obj {
	byStatus := map[int][]string{}
	for _, c := range cs {
		st := statusOf[c]
		if !slices.Contains(byStatus[st], string(c)) {
			byStatus[st] = append(byStatus[st], string(c))
		}
	}
	out := obj{}
	for st, list := range byStatus {
		out[strconv.Itoa(st)] = obj{
			"description": strings.Join(list, ", "),
			"content": obj{contentTypeJSON: obj{
				"schema": object([]string{"code", "message"}, "code", enumOf(list...), "message", str),
			}},
		}
	}
	return out
}

func (op operation) document() obj {
	responses := errorAnswers(codes(op.errs, commonErrs))
	for _, a := range op.ok {
		r := obj{"description": a.desc}
		if a.schema != "" {
			r["content"] = obj{contentTypeJSON: obj{"schema": ref(a.schema)}}
		}
		responses[strconv.Itoa(a.status)] = r
	}
	o := obj{
		"tags":        []string{op.tag},
		"summary":     op.summary,
		"operationId": operationID(op.method, op.path),
		"responses":   responses,
	}
	if op.desc != "" {
		o["description"] = op.desc
	}
	var params []obj
	for _, p := range op.params {
		params = append(params, obj{"name": p.name, "in": p.in, "description": p.desc, "required": p.required, "schema": p.schema})
	}
	if op.idempotent {
		params = append(params, obj{
			"name": "Idempotency-Key", "in": "header", "required": false,
			"description": "A retry with the same key and body returns the first answer and changes nothing; " +
				"the same key with another body is 409 IDEMPOTENCY_KEY_REUSED. Kept at least 24 hours.",
			"schema": obj{"type": "string", "minLength": 1, "maxLength": 128, "pattern": `^[\x20-\x7e]+$`},
		})
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.body != "" {
		o["requestBody"] = obj{"required": true, "content": obj{contentTypeJSON: obj{"schema": ref(op.body)}}}
	}
	switch op.auth {
	case authBearer:
		o["security"] = []obj{{"bearer": []string{}}}
	case authAdmin:
		o["security"] = []obj{{"adminKey": []string{}}}
	}
	return o
}

// operationID turns "GET /api/concerts/schedules/{scheduleId}/seats" into
// "getApiConcertsSchedulesScheduleIdSeats": stable, unique, and readable in
// generated clients.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '.' || r == '{' || r == '}' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

const openAPIDescription = "The HTTP contract of concertd, a ticket sale engine with a waiting room.\n\n" +
	"Money is an integer number of won; instants are RFC 3339 in UTC. Every error is " +
	"`{\"code\", \"message\"}`. Bad input is never a 500 and never changes state. " +
	"Request bodies over 64 KiB answer 413 BODY_TOO_LARGE; unknown routes 404 NOT_FOUND; " +
	"a wrong method 405 METHOD_NOT_ALLOWED; 429 RATE_LIMITED and 503 UNAVAILABLE carry Retry-After.\n\n" +
	"A caller proves who it is with `Authorization: Bearer`: the user key from POST /api/users, an " +
	"identity token from the site's own login (when configured), or, where an endpoint takes one, the " +
	"user token from POST /api/users/token (older clients may send a `userToken` field in the JSON body instead, read when " +
	"Authorization is absent; one that is there but not a string is 400 BAD_REQUEST)."

// openAPIDocument is the contract as OpenAPI 3.0.
func openAPIDocument() obj {
	paths := obj{}
	for _, op := range operations {
		item, _ := paths[op.path].(obj)
		if item == nil {
			item = obj{}
			paths[op.path] = item
		}
		item[strings.ToLower(op.method)] = op.document()
	}
	unrouted := errorAnswers([]engine.Code{engine.CodeNotFound, engine.CodeMethodNotAllowed})
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":       "concertd",
			"version":     "1",
			"description": openAPIDescription,
		},
		"tags": []obj{
			{"name": "waiting room", "description": "users, tokens and the queue"},
			{"name": "catalog", "description": "concerts, schedules and seat maps"},
			{"name": "holds", "description": "holding seats (ACTIVE token)"},
			{"name": "money", "description": "balance and payments"},
			{"name": "operators", "description": "X-Admin-Key; without the right key 403 ADMIN_ONLY"},
			{"name": "service", "description": "health, readiness, metrics, this document"},
		},
		"paths": paths,
		"components": obj{
			"schemas": schemas(),
			"securitySchemes": obj{
				"bearer":   obj{"type": "http", "scheme": "bearer", "description": "a user key (POST /api/users), an identity token, or a user token (POST /api/users/token), as each endpoint says"},
				"adminKey": obj{"type": "apiKey", "in": "header", "name": "X-Admin-Key"},
				// Checked by engine/identity; the operations that take it say so.
				"identityToken": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
					"description": "an identity token from the site's own login, trusted when the operator sets " +
						"IDENTITY_JWT_SECRET (HS256) or IDENTITY_JWKS_FILE (RS256, ES256, EdDSA): its sub names the user, " +
						"who is created on first sight; exp required, iss and aud checked when configured"},
			},
			// Not tied to any operation: the router answers these for routes that do not exist.
			"responses": obj{
				"NotFound":         unrouted["404"],
				"MethodNotAllowed": unrouted["405"],
			},
		},
	}
}

// openAPIJSON is encoded once: the document never changes while the process runs.
var openAPIJSON = func() []byte {
	b, err := json.MarshalIndent(openAPIDocument(), "", "  ")
	if err != nil {
		panic("openapi: " + err.Error())
	}
	return b
}()

func (s *Server) serveOpenAPI(_ context.Context, rc *fasthttp.RequestCtx) error {
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	writeJSON(rc, fasthttp.StatusOK, openAPIJSON)
	return nil
}
