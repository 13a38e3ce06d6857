package client

import "time"

// The request and answer types of the contract. Instants are time.Time (RFC 3339
// on the wire); money is int64 won; optional fields are pointers or omitempty.

// CreateUserRequest is the body of POST /api/users.
type CreateUserRequest struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	// IdempotencyKey makes a retry return the first answer (key included). Empty:
	// a client WithRetries makes one for the call.
	IdempotencyKey string `json:"-"`
}

// User is a created user, or one whose key was rotated. UserKey is its secret
// credential; an older server that predates keys answers none.
type User struct {
	UserID  int64  `json:"userId"`
	UserKey string `json:"userKey,omitempty"`
}

// Proof is a solved proof-of-work challenge (see Solve).
type Proof struct {
	Challenge string `json:"challenge"`
	Nonce     string `json:"nonce"`
}

// EnterRequest is the body of POST /api/users/token.
type EnterRequest struct {
	ConcertID int64 `json:"concertId"`
	// UserID, when set, must be the credential's user; a server running with
	// USER_AUTH=none (or one that predates user keys) enters by it alone.
	UserID      int64  `json:"userId,omitempty"`
	Proof       *Proof `json:"proof,omitempty"`
	PresaleCode string `json:"presaleCode,omitempty"`
}

// QueueStatus is a token's place: the answer of entering (UserToken set) and of
// polling.
type QueueStatus struct {
	UserToken            string     `json:"userToken,omitempty"`
	ConcertID            int64      `json:"concertId,omitempty"`
	Status               string     `json:"status"` // WAITING, ACTIVE, DONE, EXPIRED
	Position             int64      `json:"position,omitempty"`
	EstimatedWaitSeconds int64      `json:"estimatedWaitSeconds,omitempty"`
	PollAfterSeconds     int        `json:"pollAfterSeconds,omitempty"`
	ExpiresAt            *time.Time `json:"expiresAt,omitempty"`
	SaleOpensAt          *time.Time `json:"saleOpensAt,omitempty"`
}

// The token states of QueueStatus.Status.
const (
	Waiting = "WAITING"
	Active  = "ACTIVE"
	Done    = "DONE"
	Expired = "EXPIRED"
)

// Challenge is a proof-of-work challenge of one concert.
type Challenge struct {
	Challenge string    `json:"challenge"`
	Bits      int       `json:"bits"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Concert is one entry of the catalog.
type Concert struct {
	ConcertID   int64  `json:"concertId"`
	Title       string `json:"title"`
	Description string `json:"description"`
	SaleOpensAt string `json:"saleOpensAt"`
}

// Schedule is one upcoming date with seats left.
type Schedule struct {
	ScheduleID     int64  `json:"concertScheduleId"`
	ConcertID      int64  `json:"concertId"`
	ConcertTitle   string `json:"concertTitle"`
	ConcertDate    string `json:"concertDate"`
	TotalSeats     int    `json:"totalSeats"`
	AvailableSeats int64  `json:"availableSeats"`
	Price          int64  `json:"price"`
}

// SeatMap is every seat of a schedule, by number.
type SeatMap struct {
	ScheduleID int64  `json:"concertScheduleId"`
	Seats      []Seat `json:"availableSeats"`
}

// Seat is one seat of a seat map.
type Seat struct {
	SeatNumber int    `json:"seatNumber"`
	Status     string `json:"status"` // available, pending (held), reserved (sold)
	Price      int64  `json:"price"`
	Section    string `json:"section,omitempty"`
	Row        int    `json:"row,omitempty"`
	Seat       int    `json:"seat,omitempty"` // number within the row
	Label      string `json:"label,omitempty"`
}

// The seat states of Seat.Status.
const (
	SeatAvailable = "available"
	SeatPending   = "pending"
	SeatReserved  = "reserved"
)

// Available returns the numbers of the seats nobody holds or bought.
func (m SeatMap) Available() []int {
	var out []int
	for _, s := range m.Seats {
		if s.Status == SeatAvailable {
			out = append(out, s.SeatNumber)
		}
	}
	return out
}

// Count returns how many seats are in status.
func (m SeatMap) Count(status string) int {
	n := 0
	for _, s := range m.Seats {
		if s.Status == status {
			n++
		}
	}
	return n
}

// HoldRequest is the body of POST /api/reservations.
type HoldRequest struct {
	ScheduleID int64 `json:"concertScheduleId"`
	SeatNumber int   `json:"seatNumber"`
}

// BestRequest is the body of POST /api/reservations/best.
type BestRequest struct {
	ScheduleID int64  `json:"concertScheduleId"`
	Quantity   int    `json:"quantity"`
	Section    string `json:"section,omitempty"`
}

// Reservation is a hold, paid or not.
type Reservation struct {
	ReservationID  int64      `json:"reservationId"`
	Status         string     `json:"status"` // PENDING, PAID, EXPIRED, CANCELLED
	ScheduleID     int64      `json:"concertScheduleId,omitempty"`
	SeatNumber     int        `json:"seatNumber,omitempty"`
	Price          int64      `json:"price,omitempty"`
	ExpirationTime *time.Time `json:"expirationTime,omitempty"`
}

// The reservation states of Reservation.Status.
const (
	Pending   = "PENDING"
	Paid      = "PAID"
	Cancelled = "CANCELLED"
)

// ChargeRequest is the body of POST /api/users/balance/charge.
type ChargeRequest struct {
	Amount         int64  `json:"amount"`
	IdempotencyKey string `json:"-"` // see CreateUserRequest
}

// Charged is the answer of a charge.
type Charged struct {
	Status         string `json:"status"`
	CurrentBalance int64  `json:"currentBalance"`
}

// Balance is a user's balance and newest history.
type Balance struct {
	CurrentBalance int64         `json:"currentBalance"`
	BalanceHistory []Transaction `json:"balanceHistory"`
}

// Transaction is one line of a balance history: a charge (positive) or a
// payment (negative).
type Transaction struct {
	TransactionDate time.Time `json:"transactionDate"`
	TransactionType string    `json:"transactionType"`
	Amount          int64     `json:"amount"`
}

// PayRequest is the body of POST /api/payments: one reservation, or several paid
// together (all or nothing) with ReservationIDs.
type PayRequest struct {
	ReservationID  int64   `json:"reservationId,omitempty"`
	ReservationIDs []int64 `json:"reservationIds,omitempty"`
	PaymentAmount  int64   `json:"paymentAmount"`
	IdempotencyKey string  `json:"-"` // see CreateUserRequest
}

// Payment is a completed payment.
type Payment struct {
	Status         string  `json:"status"`
	PaymentID      int64   `json:"paymentId"`
	ReservationID  int64   `json:"reservationId,omitempty"`
	ReservationIDs []int64 `json:"reservationIds,omitempty"`
	Amount         int64   `json:"amount"`
	CurrentBalance int64   `json:"currentBalance"`
}

// NewConcert is the body of POST /api/admin/concerts.
type NewConcert struct {
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	SaleOpensAt *time.Time     `json:"saleOpensAt,omitempty"`
	Queue       *QueueSettings `json:"queue,omitempty"`
	Schedules   []NewSchedule  `json:"schedules"`
}

// QueueSettings are a concert's queue settings; zero fields are the server's
// defaults when creating.
type QueueSettings struct {
	AdmitPerSecond    int  `json:"admitPerSecond,omitempty"`
	MaxActive         int  `json:"maxActive,omitempty"`
	Paused            bool `json:"paused,omitempty"`
	ProofOfWorkBits   int  `json:"proofOfWorkBits,omitempty"`
	MaxTicketsPerUser int  `json:"maxTicketsPerUser,omitempty"`
	Closed            bool `json:"closed,omitempty"`
}

// NewSchedule is one date of a new concert: SeatCount seats at Price, or a venue
// layout in Sections.
type NewSchedule struct {
	ConcertDate string    `json:"concertDate"` // YYYY-MM-DD
	SeatCount   int       `json:"seatCount,omitempty"`
	Price       int64     `json:"price,omitempty"`
	Sections    []Section `json:"sections,omitempty"`
}

// Section is one block of a venue: rows of seats at one price.
type Section struct {
	Name        string `json:"name"`
	Price       int64  `json:"price"`
	Rows        int    `json:"rows"`
	SeatsPerRow int    `json:"seatsPerRow"`
}

// CreatedConcert is the answer of creating a concert.
type CreatedConcert struct {
	ConcertID   int64   `json:"concertId"`
	ScheduleIDs []int64 `json:"scheduleIds"`
}

// QueuePatch is the body of PATCH /api/admin/concerts/{id}/queue: nil fields stay
// as they are.
type QueuePatch struct {
	AdmitPerSecond    *int  `json:"admitPerSecond,omitempty"`
	MaxActive         *int  `json:"maxActive,omitempty"`
	Paused            *bool `json:"paused,omitempty"`
	ProofOfWorkBits   *int  `json:"proofOfWorkBits,omitempty"`
	MaxTicketsPerUser *int  `json:"maxTicketsPerUser,omitempty"`
	Closed            *bool `json:"closed,omitempty"`
}

// Stats are a concert's counts.
type Stats struct {
	Waiting       int64 `json:"waiting"`
	Active        int64 `json:"active"`
	AdmittedTotal int64 `json:"admittedTotal"`
	Held          int64 `json:"held"`
	Sold          int64 `json:"sold"`
	SeatsTotal    int64 `json:"seatsTotal"`
}

// PresaleRequest is the body of POST /api/admin/concerts/{id}/presale.
type PresaleRequest struct {
	Count int       `json:"count"`
	Until time.Time `json:"until"`
}
