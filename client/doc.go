// Package client is the Go client of concertd's HTTP API: what a Go program
// imports to put buyers through a sale (users and their keys, the waiting room,
// seat maps, holds, payments) or to run one (concerts, queue settings, stats,
// presale codes), without writing requests by hand.
//
// Every endpoint of the contract has a method with typed request and answer
// structs. A refusal comes back as an *Error carrying the contract's status and
// code, so callers branch on codes rather than on message text:
//
//	r, err := c.Hold(ctx, token, client.HoldRequest{ScheduleID: 1, SeatNumber: 3})
//	if client.IsCode(err, "SEAT_TAKEN") { ... try another seat ... }
//
// Credentials are plain strings sent as `Authorization: Bearer`: a user key
// (from CreateUser, rotated by RotateKey), an identity token from the site's own
// login, or a user token (from EnterQueue); each method names the one it takes.
// The admin key is set once with WithAdminKey.
//
// A client built WithRetries repeats answers of 429 and 503 (waiting what
// Retry-After says) and requests that got no answer, moving to the next instance
// given WithInstances each time. A POST that takes an Idempotency-Key keeps one key
// across all its attempts, so a retry after a lost answer cannot charge or pay
// twice. The proof of work some concerts ask for on entry is solved in the client
// (Solve), and EnterQueue does it by itself when the server asks for one.
//
// The package depends on nothing of the server: it is the HTTP contract alone.
package client
