package engine

import "time"

// QueueSettings are a concert's live admission settings.
type QueueSettings struct {
	AdmitPerSecond int  `json:"admitPerSecond"`
	MaxActive      int  `json:"maxActive"`
	Paused         bool `json:"paused"`

	// ProofOfWorkBits is how many leading zero bits an entry's proof of work
	// needs (0 to pow.MaxBits); 0: no proof asked. See gates.go.
	ProofOfWorkBits int `json:"proofOfWorkBits"`
	// Closed: the sale ended for good (see close.go); it never reopens.
	Closed bool `json:"closed"`
	// MaxTicketsPerUser bounds one user's seats held plus bought on the concert,
	// across their tokens; 0: no limit beyond the hold limit.
	MaxTicketsPerUser int `json:"maxTicketsPerUser"`
}

// QueuePatch changes some of a concert's queue settings; nil fields stay as they are.
type QueuePatch struct {
	AdmitPerSecond *int
	MaxActive      *int
	Paused         *bool

	ProofOfWorkBits *int
	Closed          *bool
	// MaxTicketsPerUser: 0 lifts the limit.
	MaxTicketsPerUser *int
}

// Concert is a show whose seats go on sale at SaleOpensAt.
type Concert struct {
	ID          int64
	Title       string
	Description string
	SaleOpensAt time.Time
	Queue       QueueSettings
}

// Schedule is one performance of a concert with seats numbered 1..SeatCount,
// laid out in Sections (see layout.go). Price is the first section's price.
type Schedule struct {
	ID           int64
	ConcertID    int64
	ConcertTitle string
	Date         string // YYYY-MM-DD
	SeatCount    int
	Price        int64
	Sections     []Section // never empty once in the catalog
}

// NewSchedule is a schedule to create: SeatCount and Price (one section "A" of
// one row), or Sections.
type NewSchedule struct {
	Date      string // YYYY-MM-DD
	SeatCount int
	Price     int64
	Sections  []Section
}

// NewConcert is what an operator submits to create a concert.
type NewConcert struct {
	Title       string
	Description string
	SaleOpensAt time.Time
	Queue       QueueSettings
	Schedules   []NewSchedule
}

// TokenState is where a token stands in its concert's waiting room.
type TokenState string

const (
	TokenWaiting TokenState = "WAITING"
	TokenActive  TokenState = "ACTIVE"
	TokenDone    TokenState = "DONE"
	TokenExpired TokenState = "EXPIRED"
)

// Token is what a signed user token says. Gen tells one token of a user for a
// concert from the next one the same user gets after the first ended.
type Token struct {
	ConcertID int64
	UserID    int64
	Gen       int64
	IssuedAt  time.Time
}

// ReservationState is the life of a hold.
type ReservationState string

const (
	ReservationPending   ReservationState = "PENDING"
	ReservationPaying    ReservationState = "PAYING" // internal; shown to clients as PENDING
	ReservationPaid      ReservationState = "PAID"
	ReservationExpired   ReservationState = "EXPIRED"
	ReservationCancelled ReservationState = "CANCELLED"
)

// Reservation is a hold on one seat by one user.
type Reservation struct {
	ID         int64
	ConcertID  int64
	ScheduleID int64
	Seat       int
	UserID     int64
	Price      int64
	State      ReservationState
	ExpiresAt  time.Time // hold deadline
}

// SeatStatus is a seat as the seat map shows it. It is a byte, not a string: a
// view of 100,000 seats is read every 75 ms under a rush, and as strings its
// statuses were 1.6 MB of pointers for the collector to scan, where bytes are
// 100 KB with none.
type SeatStatus uint8

const (
	SeatAvailable SeatStatus = iota
	SeatPending
	SeatReserved
)

var seatStatusNames = [...]string{SeatAvailable: "available", SeatPending: "pending", SeatReserved: "reserved"}

// String is the status as the API spells it.
func (s SeatStatus) String() string {
	if int(s) < len(seatStatusNames) {
		return seatStatusNames[s]
	}
	return "unknown"
}

// LedgerEntry is one line of a user's balance history.
type LedgerEntry struct {
	At     time.Time
	Type   string // "charge" or "payment"
	Amount int64  // negative for payments
}

// Sale is a completed purchase: the ledger's word that a seat belongs to a user.
type Sale struct {
	PaymentID     int64
	ReservationID int64
	ScheduleID    int64
	Seat          int
	UserID        int64
	Amount        int64
	Balance       int64 // the payer's balance right after the sale
	At            time.Time
	// Attempt names one payment attempt for a PaymentFence (0: none); the ledger
	// refuses to commit an attempt that was voided.
	Attempt int64
}

// Idempotency names a request that may be retried: Key is the client's
// Idempotency-Key, Fingerprint a digest of what was asked. Empty Key: not idempotent.
type Idempotency struct {
	Key         string
	Fingerprint string
}
