package engine

import (
	"context"
	"time"
)

// The engine talks to its state only through the interfaces below; the stores in
// store/ implement them (Redis for the shared fast state, PostgreSQL or memory for
// the ledger). Every method takes `now` from the engine's clock where time matters,
// so tests move a simulated clock instead of sleeping.

// The ledger is the durable record: users, the catalog, balances, sales. It is the
// final judge of a sale: a seat is sold to at most one user even if the fast state
// is lost. Its roles are Users, Concerts, Wallet and Sales; one store
// (store/pgstore, or store/memstore in embedded mode) implements them all.

// Users are the ledger's registered users.
type Users interface {
	// CreateUser stores a user; ErrEmailTaken if the email is registered. Keys of
	// user creations are one namespace of their own (there is no user yet): a
	// retry with the same key and fingerprint returns the first user's id and
	// changes nothing, even though the email is now taken; another fingerprint is
	// ErrIdempotencyKeyReused.
	CreateUser(ctx context.Context, name, email string, idem Idempotency) (int64, error)
	// UserExists reports whether a user id exists.
	UserExists(ctx context.Context, userID int64) (bool, error)
	// UserIDsAbove lists up to limit user ids greater than after, ascending, so an
	// instance can learn every user in a few large reads instead of one per user.
	UserIDsAbove(ctx context.Context, after int64, limit int) ([]int64, error)
}

// Concerts is the ledger's catalog.
type Concerts interface {
	// CreateConcert stores a concert and its schedules in one transaction.
	CreateConcert(ctx context.Context, c NewConcert) (Concert, []Schedule, error)
	// Catalog returns every concert and every schedule (ordered by id).
	Catalog(ctx context.Context) ([]Concert, []Schedule, error)
	// SaveQueueSettings persists a concert's queue settings; ErrConcertNotFound if none.
	SaveQueueSettings(ctx context.Context, concertID int64, s QueueSettings) error
}

// Wallet is the ledger's balances.
type Wallet interface {
	// Charge adds amount to the user's balance and records a "charge" history row in
	// one transaction; the balance may never exceed maxBalance (ErrInvalidAmount).
	// With a non-empty idem.Key a repeat with the same fingerprint returns the first
	// result and changes nothing; another fingerprint is ErrIdempotencyKeyReused.
	// ErrUserNotFound for an unknown user.
	Charge(ctx context.Context, userID, amount, maxBalance int64, idem Idempotency) (balance int64, err error)
	// Balance returns the current balance and the newest `limit` history rows, newest first.
	Balance(ctx context.Context, userID int64, limit int) (int64, []LedgerEntry, error)
}

// Sales is the ledger's record of paid seats.
type Sales interface {
	// Sell is the payment transaction: balance -= s.Amount only if balance >= amount
	// (ErrInsufficientBalance otherwise), the sale row (unique per schedule and seat:
	// ErrSeatTaken if another reservation owns it, ErrAlreadyPaid if this one does),
	// the payment row, the history row, and an outbox event — all or nothing.
	// Idempotency as for Charge. Fills PaymentID, Balance and At in the returned Sale.
	Sell(ctx context.Context, s Sale, idem Idempotency) (Sale, error)
	// IdempotentSale returns the stored result of an earlier Sell with this key, if any.
	IdempotentSale(ctx context.Context, userID int64, idem Idempotency) (Sale, bool, error)
	// SaleByReservation returns the sale of a reservation; found=false if unpaid.
	SaleByReservation(ctx context.Context, reservationID int64) (Sale, bool, error)
	// SoldSeats returns which of the given seats of a schedule are sold, with their sales.
	SoldSeats(ctx context.Context, scheduleID int64, seats []int) ([]Sale, error)
	// AllSoldSeats returns every sold seat number of a schedule.
	AllSoldSeats(ctx context.Context, scheduleID int64) ([]int, error)
}

// Pinger is a store that can tell whether it answers.
type Pinger interface {
	// Ping reports whether the store answers; its error names the store.
	Ping(ctx context.Context) error
}

// QueueConfig is what the queue store needs to know of a concert.
type QueueConfig struct {
	ConcertID   int64
	SaleOpensAt time.Time
	Settings    QueueSettings
}

// EnterResult is a user's token in a concert's waiting room after Enter.
type EnterResult struct {
	Gen      int64
	IssuedAt time.Time
	Reused   bool // the user already had a live token; this is that one
	Status   TokenStatus
}

// TokenStatus is a token's live state in the shared queue.
type TokenStatus struct {
	State       TokenState
	Rank        int64     // 0-based place among waiting tokens; meaningful only when WAITING
	ActiveUntil time.Time // when ACTIVE
}

// AdmitParams bound one admission step.
type AdmitParams struct {
	ActiveTTL   time.Duration
	IdleTimeout time.Duration
	MaxBatch    int // most tokens admitted in one step
	MaxIdleScan int // most waiters the idle scan checks in one step
	// IdleScanPeriod paces the idle scan, shared by every instance: it checks the
	// whole line about once per period, so a short line costs a few checks a step,
	// not MaxIdleScan. 0: MaxIdleScan every step.
	IdleScanPeriod time.Duration
}

// AdmitResult says what one admission step did.
type AdmitResult struct {
	Admitted    int
	IdleDropped int
}

// QueueStats are a concert's queue counts.
type QueueStats struct {
	Waiting       int64
	Active        int64
	AdmittedTotal int64
}

// Queue is a concert's waiting room and admission state, shared by every instance.
type Queue interface {
	// Configure creates or overwrites a concert's queue configuration. Idempotent.
	Configure(ctx context.Context, c QueueConfig) error
	// Configured reports whether the concert's queue configuration exists (false after
	// the shared state was lost, so the engine can restore it from the ledger).
	Configured(ctx context.Context, concertID int64) (bool, error)
	// Patch changes live settings and returns the result; takes effect on the next step.
	Patch(ctx context.Context, concertID int64, p QueuePatch) (QueueSettings, error)

	// Enter gives the user a place in line, or returns the live token they already
	// have. preQueueScore >= 0 puts a token issued before the sale opens at that
	// random place among the pre-queue; -1 queues it behind everyone in arrival order.
	Enter(ctx context.Context, concertID, userID int64, now time.Time, idle time.Duration, preQueueScore int64) (EnterResult, error)
	// Status reads a token's state and, when WAITING, records the poll as a heartbeat.
	// A token whose Gen is not the user's current one is EXPIRED.
	Status(ctx context.Context, t Token, now time.Time, idle time.Duration) (TokenStatus, error)
	// Admit drops idle waiters and moves waiting tokens to ACTIVE in queue order,
	// within the concert's rate and maxActive, atomically across all instances.
	Admit(ctx context.Context, concertID int64, now time.Time, p AdmitParams) (AdmitResult, error)
	// Stats counts waiting, active and admitted tokens.
	Stats(ctx context.Context, concertID int64, now time.Time) (QueueStats, error)
}

// HoldRequest asks to hold one seat.
type HoldRequest struct {
	Token         Token
	ReservationID int64 // 0: the store draws a fresh id, used only if a new hold is made
	Schedule      Schedule
	Seat          int
	Now           time.Time
	Deadline      time.Time // Now + hold TTL
	MaxHolds      int
}

// HoldResult is the hold that now stands.
type HoldResult struct {
	Reservation Reservation
	Created     bool // false: the user already held this seat and this is that hold
}

// SeatMap is a schedule's seats as the shared state knows them.
type SeatMap struct {
	Sold []bool // index = seat number; index 0 unused
	// Tags[n] is HolderTag of seat n's holder while it is held (pending or being
	// paid), else 0. It tells a user who cannot hold the seat from one who may,
	// without a holder's id per seat.
	Tags []byte
}

// Held reports whether seat n is pending or being paid for.
func (m SeatMap) Held(n int) bool { return n < len(m.Tags) && m.Tags[n] != 0 }

// HolderTag is a user's one-byte tag in SeatMap.Tags: never 0, and different for
// users whose ids differ by less than 255. Equal tags say nothing: the shared
// state decides. (The store hands it to scripts/hold.lua, which writes it.)
func HolderTag(userID int64) byte { return byte(uint64(userID)%255) + 1 }

// ExpiredHold is a hold whose deadline passed: a PENDING one past its hold TTL, or
// a PAYING one past its payment window.
type ExpiredHold struct {
	ConcertID     int64
	ScheduleID    int64
	Seat          int
	ReservationID int64
	UserID        int64
	Paying        bool
}

// The shared state's seat roles are Holds, Payments and Expiries; one store
// (store/redisstore) implements them all, and Queue. When the shared state lost its
// data, the store rebuilds a schedule's sold seats from the ledger itself before it
// answers for that schedule: no method here ever shows a sold seat as free.

// Holds are seat holds as their owners see them.
type Holds interface {
	// Hold atomically checks that the token is ACTIVE, the seat is free, and the user
	// holds fewer than MaxHolds seats of the concert; then holds it until Deadline and
	// extends the token's active lease to cover the hold. Errors: ErrNotAdmitted,
	// ErrTokenExpired, ErrSeatTaken, ErrHoldLimitReached.
	Hold(ctx context.Context, r HoldRequest) (HoldResult, error)
	// SeatMap reads sold and held seats of a schedule, with their holders' tags, in
	// one round trip; holds past their deadline read as free.
	SeatMap(ctx context.Context, concertID, scheduleID int64, seatCount int, now time.Time) (SeatMap, error)
	// Reservation reads a reservation from the shared state; ErrReservationNotFound if
	// unknown. State is derived: a PENDING hold past its deadline reads EXPIRED.
	Reservation(ctx context.Context, concertID, reservationID int64, now time.Time) (Reservation, error)
	// Cancel gives back a pending hold of its owner. Errors: ErrReservationNotFound
	// (unknown or another user's), ErrAlreadyPaid, ErrReservationExpired.
	Cancel(ctx context.Context, concertID, reservationID, userID int64, now time.Time) (Reservation, error)
	// Counts returns how many seats of a schedule are sold and held (live) now.
	Counts(ctx context.Context, concertID, scheduleID int64, now time.Time) (sold, held int64, err error)
}

// Payments move a hold through its payment in the shared state.
type Payments interface {
	// BeginPayment moves the owner's PENDING hold to PAYING until windowEnd, so it cannot
	// expire under the payment. Errors: ErrReservationNotFound, ErrAlreadyPaid (paid or
	// already being paid), ErrReservationExpired, ErrNotAdmitted/ErrTokenExpired.
	BeginPayment(ctx context.Context, t Token, reservationID int64, now, windowEnd time.Time) (Reservation, error)
	// AbortPayment puts a PAYING hold back to PENDING with its old deadline.
	AbortPayment(ctx context.Context, r Reservation, now time.Time) error
	// CompletePayment marks the seat sold, ends the hold (and any other hold on that
	// seat), and marks the user's token DONE when they hold nothing else pending on
	// the concert. Idempotent.
	CompletePayment(ctx context.Context, r Reservation, now time.Time) (done bool, err error)
	// MarkSold records seats the ledger sold (to another reservation than the
	// shared state knew of) as sold, and drops any hold on them.
	MarkSold(ctx context.Context, concertID, scheduleID int64, seats []int) error
}

// Expiries are the holds whose deadline passed, for the sweeper.
type Expiries interface {
	// Expired lists up to limit holds of a schedule whose deadline is at or before now.
	Expired(ctx context.Context, concertID, scheduleID int64, now time.Time, limit int) ([]ExpiredHold, error)
	// Release frees an expired hold if it is still the same hold (same reservation)
	// and still past its deadline; a no-op otherwise. Idempotent.
	Release(ctx context.Context, h ExpiredHold, now time.Time) error
}

// Stores are the engine's state, one field per role. The fields up to Ledger must
// be set; the usual instance has one ledger store in the ledger's roles and one
// shared-state store in the others. A nil optional role turns its feature off.
type Stores struct {
	Users    Users
	Concerts Concerts
	Wallet   Wallet
	Sales    Sales
	Queue    Queue
	Holds    Holds
	Payments Payments
	Expiries Expiries
	// Shared and Ledger are what Ready and Down ask: the shared state ("redis")
	// and the ledger ("database").
	Shared Pinger
	Ledger Pinger

	// Optional roles.
	External  ExternalUsers // identity tokens' users (nil: identity tokens refused)
	KeyLedger UserKeyLedger // with KeyMirror: user keys can be rotated and revoked
	KeyMirror UserKeyMirror
	Reissuer  TokenReissuer // renews a live token near its lifetime's end
	Gates     Gates         // proof of work
	Presale   PresaleLedger // presale codes
	Best      BestSeats     // best-available holds
	Fence     PaymentFence  // settles a payment whose outcome was lost
	Multi     MultiSeller   // pays several holds in one ledger transaction
	Closer    SaleCloser    // removes a closed concert's shared state
}
