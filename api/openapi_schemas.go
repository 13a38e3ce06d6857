package api

// The OpenAPI document's component schemas: every request and answer body the
// operations in openapi.go name, with the limits the decoders enforce.

import (
	"slices"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/pow"
)

func props(kv ...any) obj {
	p := obj{}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i].(string)] = kv[i+1]
	}
	return p
}

func object(required []string, kv ...any) obj {
	o := obj{"type": "object", "properties": props(kv...)}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func arrayOf(name string) obj { return obj{"type": "array", "items": ref(name)} }

func enumOf(vals ...string) obj { return obj{"type": "string", "enum": vals} }

func with(base obj, kv ...any) obj {
	o := obj{}
	for k, v := range base {
		o[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i].(string)] = kv[i+1]
	}
	return o
}

func schemas() obj {
	allCodes := make([]string, 0, len(statusOf))
	for c := range statusOf {
		allCodes = append(allCodes, string(c))
	}
	slices.Sort(allCodes)
	queueFields := []any{
		"concertId", intID,
		"status", enumOf("WAITING", "ACTIVE", "DONE"),
		"position", with(intID, "description", "1 + live waiting tokens ahead; absent in the pre-queue"),
		"estimatedWaitSeconds", count,
		"pollAfterSeconds", with(count, "description", "poll again after this many seconds"),
		"saleOpensAt", with(instantT, "description", "given instead of position in the pre-queue"),
		"expiresAt", with(instantT, "description", "when ACTIVE: end of the admission"),
	}
	reservation := object([]string{"reservationId", "status", "concertScheduleId", "seatNumber", "price", "expirationTime"},
		"reservationId", intID,
		"status", enumOf("PENDING", "PAID", "EXPIRED", "CANCELLED"),
		"concertScheduleId", intID,
		"seatNumber", intID,
		"price", won,
		"expirationTime", instantT)
	settings := []any{
		"maxTicketsPerUser", with(count, "description", "seats held plus bought per person on the concert; 0 (default): no limit beyond maxHoldsPerUser"),
		"admitPerSecond", obj{"type": "integer", "minimum": 1, "example": 100},
		"maxActive", obj{"type": "integer", "minimum": 1, "example": 1000},
		"proofOfWorkBits", obj{"type": "integer", "minimum": 0, "maximum": pow.MaxBits, "example": 0,
			"description": "leading zero bits an entry's proof of work needs; 0 (default): no proof"},
	}
	return obj{
		"Error": object([]string{"code", "message"}, "code", enumOf(allCodes...), "message", str),
		"CreateUserRequest": object([]string{"name", "email"},
			"name", with(str, "example", "Kim", "minLength", 1, "maxLength", engine.MaxNameLength,
				"description", "no control characters; surrounding spaces are trimmed"), "email", with(str, "format", "email", "example", "kim@example.com")),
		"UserKey": object([]string{"userId", "userKey"}, "userId", intID,
			"userKey", with(str, "description", "the user's secret credential: send as Authorization: Bearer <userKey>; keep it like a password")),
		"EnterRequest": object([]string{"concertId"},
			"userId", with(intID, "description", "optional; must be the credential's user"), "concertId", intID,
			"proof", with(object([]string{"challenge", "nonce"}, "challenge", str,
				"nonce", with(str, "minLength", 1, "maxLength", pow.MaxNonceLen, "description", "printable ASCII")),
				"description", "needed when the concert's proofOfWorkBits > 0: SHA-256(challenge + \":\" + nonce) begins with bits zero bits"),
			"presaleCode", with(str, "description", "needed until the concert's presale ends")),
		"Challenge": object([]string{"challenge", "bits", "expiresAt"},
			"challenge", str, "bits", obj{"type": "integer", "minimum": 0, "maximum": pow.MaxBits}, "expiresAt", instantT),
		"PresaleRequest": object([]string{"count", "until"},
			"count", obj{"type": "integer", "minimum": 1, "maximum": engine.MaxPresaleCodes, "example": 1000},
			"until", with(instantT, "description", "entries need a code until then")),
		"PresaleCodes": object([]string{"codes"}, "codes", obj{"type": "array", "items": str}),
		"TokenGrant": object([]string{"userToken", "concertId", "status"},
			append([]any{"userToken", with(str, "description", "send as Authorization: Bearer <userToken>")}, queueFields...)...),
		"QueueStatus": object([]string{"concertId", "status"}, queueFields...),
		"Concert": object([]string{"concertId", "title", "description", "saleOpensAt"},
			"concertId", intID, "title", str, "description", str, "saleOpensAt", instantT),
		"ConcertList": object([]string{"concerts"}, "concerts", arrayOf("Concert")),
		"Schedule": object([]string{"concertScheduleId", "concertId", "concertTitle", "concertDate", "totalSeats", "availableSeats"},
			"concertScheduleId", intID, "concertId", intID, "concertTitle", str, "concertDate", dateT,
			"totalSeats", count, "availableSeats", count, "price", won),
		"ScheduleList": object([]string{"availableSchedules"}, "availableSchedules", arrayOf("Schedule")),
		"Seat": object([]string{"seatNumber", "status", "price", "section", "row", "seat", "label"},
			"seatNumber", intID, "status", enumOf("available", "pending", "reserved"), "price", with(won, "description", "its section's price"),
			"section", str, "row", with(intID, "description", "row within the section, from the front"),
			"seat", with(intID, "description", "number within the row"),
			"label", with(str, "example", "R-12-7", "description", "section-row-seat")),
		"SeatMap": object([]string{"concertScheduleId", "availableSeats"},
			"concertScheduleId", intID, "availableSeats", with(arrayOf("Seat"), "description", "every seat, by number")),
		"HoldRequest": object([]string{"concertScheduleId", "seatNumber"}, "concertScheduleId", intID, "seatNumber", intID),
		"Reservation": reservation,
		"BestRequest": object([]string{"concertScheduleId", "quantity"},
			"concertScheduleId", intID, "quantity", with(intID, "description", "1 to maxHoldsPerUser"),
			"section", with(str, "minLength", 1, "maxLength", 20, "description", "only this section; default: the first with a run")),
		"BestReservations":     object([]string{"reservations"}, "reservations", arrayOf("Reservation")),
		"CancelledReservation": object([]string{"reservationId", "status"}, "reservationId", intID, "status", enumOf("CANCELLED")),
		"ChargeRequest": object([]string{"amount"},
			"amount", obj{"type": "integer", "format": "int64", "minimum": 1, "maximum": engine.MaxChargeAmount, "example": 50000}),
		"ChargeResult": object([]string{"status", "currentBalance"}, "status", enumOf("SUCCESS"), "currentBalance", won),
		"BalanceEntry": object([]string{"transactionDate", "transactionType", "amount"},
			"transactionDate", instantT, "transactionType", enumOf("charge", "payment"),
			"amount", with(won, "description", "won; negative for payments")),
		"Balance": object([]string{"currentBalance", "balanceHistory"},
			"currentBalance", won, "balanceHistory", arrayOf("BalanceEntry")),
		"PaymentRequest": object([]string{"paymentAmount"},
			"reservationId", with(intID, "description", "the reservation to pay; or reservationIds, not both"),
			"reservationIds", with(obj{"type": "array", "items": intID}, "minItems", 1, "uniqueItems", true,
				"description", "several reservations paid together (1 to maxHoldsPerUser); or reservationId, not both"),
			"paymentAmount", with(won, "description", "must equal the seat's price, or the sum of the seats' prices")),
		"Payment": object([]string{"status", "paymentId", "amount", "currentBalance"},
			"status", enumOf("COMPLETED"), "paymentId", intID,
			"reservationId", with(intID, "description", "when one reservation was paid"),
			"reservationIds", with(obj{"type": "array", "items": intID}, "description", "when reservationIds were paid"),
			"amount", won, "currentBalance", won),
		"ScheduleSpec": with(object([]string{"concertDate"},
			"concertDate", with(dateT, "description", "from "+engine.MinConcertDate+" to "+engine.MaxConcertDate),
			"seatCount", obj{"type": "integer", "minimum": 1, "maximum": engine.MaxSeatCount, "example": 50},
			"price", with(won, "minimum", 1, "example", 50000),
			"sections", with(arrayOf("Section"), "minItems", 1,
				"description", "the venue's layout instead of seatCount and price; seats run 1..N through the "+
					"sections in order, row by row; at most 100,000 seats in all")),
			"description", "either seatCount and price (one section \"A\" of one row) or sections"),
		"Section": object([]string{"name", "price", "rows", "seatsPerRow"},
			"name", with(str, "minLength", 1, "maxLength", 20, "description", "unique in the schedule"),
			"price", with(won, "minimum", 1), "rows", with(intID, "maximum", engine.MaxSeatCount),
			"seatsPerRow", with(intID, "maximum", engine.MaxSeatCount)),
		"CreateConcertRequest": object([]string{"title", "schedules"},
			"title", with(str, "minLength", 1, "maxLength", engine.MaxTitleLength,
				"description", "no control characters; surrounding spaces are trimmed"),
			"description", with(str, "maxLength", engine.MaxDescriptionLength,
				"description", "no control characters but tab and line breaks"),
			"saleOpensAt", with(instantT, "description", "default: now"),
			"queue", with(object(nil, settings...), "description", "default: 100 per second, 1000 active"),
			"schedules", arrayOf("ScheduleSpec")),
		"CreateConcertResponse": object([]string{"concertId", "scheduleIds"},
			"concertId", intID, "scheduleIds", obj{"type": "array", "items": intID}),
		"QueuePatch": object(nil, append(slices.Clone(settings), "paused", boolT, "closed", boolT)...),
		"QueueSettings": object([]string{"admitPerSecond", "maxActive", "paused"},
			append(slices.Clone(settings), "paused", boolT, "closed", boolT)...),
		"Stats": object([]string{"waiting", "active", "admittedTotal", "held", "sold", "seatsTotal"},
			"waiting", count, "active", count, "admittedTotal", count, "held", count, "sold", count, "seatsTotal", count),
		"Health": object([]string{"status"}, "status", str),
	}
}

// errorAnswers groups an operation's codes by the status statusOf gives them.
