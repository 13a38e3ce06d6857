package engine

import "strconv"

// Section is a block of a venue with one price: Rows rows of SeatsPerRow seats.
// A schedule's seat numbers run 1..N through its sections in order, row by row,
// seat by seat within a row.
type Section struct {
	Name        string `json:"name"`
	Price       int64  `json:"price"`
	Rows        int    `json:"rows"`
	SeatsPerRow int    `json:"seatsPerRow"`
}

// Limits of a layout. maxSections keeps a layout small enough for the Lua
// scripts to walk on every call (see scripts/best.lua).
const (
	maxSectionName = 20
	maxSections    = 100
	// DefaultSection names the one section of a schedule given as seatCount.
	DefaultSection = "A"
)

// SeatPlace is where a seat is: its section (index into Sections), its row in the
// section and its number in the row, all 1-based but the index.
type SeatPlace struct {
	Section int
	Row     int
	Seat    int
}

// normalize fills Sections of a schedule stored without them (one section "A" of
// one row) and SeatCount and Price of one stored with them.
func (s *Schedule) normalize() {
	if len(s.Sections) == 0 {
		s.Sections = []Section{{Name: DefaultSection, Price: s.Price, Rows: 1, SeatsPerRow: s.SeatCount}}
		return
	}
	n := 0
	for _, sec := range s.Sections {
		n += sec.Rows * sec.SeatsPerRow
	}
	s.SeatCount, s.Price = n, s.Sections[0].Price
}

// Layout is the schedule's sections; one section "A" of one row when it was
// made without them and not yet normalized (a store's test fixture).
func (s Schedule) Layout() []Section {
	if len(s.Sections) == 0 {
		return []Section{{Name: DefaultSection, Price: s.Price, Rows: 1, SeatsPerRow: s.SeatCount}}
	}
	return s.Sections
}

// Place finds seat n (1..SeatCount); ok=false outside the schedule.
func (s Schedule) Place(n int) (SeatPlace, bool) {
	if n < 1 {
		return SeatPlace{}, false
	}
	if len(s.Sections) == 0 {
		if n > s.SeatCount {
			return SeatPlace{}, false
		}
		return SeatPlace{Row: 1, Seat: n}, true
	}
	start := 1
	for i, sec := range s.Sections {
		size := sec.Rows * sec.SeatsPerRow
		if n < start+size {
			off := n - start
			return SeatPlace{Section: i, Row: off/sec.SeatsPerRow + 1, Seat: off%sec.SeatsPerRow + 1}, true
		}
		start += size
	}
	return SeatPlace{}, false
}

// SeatPrice is the price of seat n, its section's; 0 outside the schedule.
func (s Schedule) SeatPrice(n int) int64 {
	p, ok := s.Place(n)
	if !ok {
		return 0
	}
	return s.Layout()[p.Section].Price
}

// Label is a seat's printed name: section, row and seat ("R-12-7").
func (s Schedule) Label(p SeatPlace) string {
	return s.Layout()[p.Section].Name + "-" + strconv.Itoa(p.Row) + "-" + strconv.Itoa(p.Seat)
}

// SectionIndex finds a section by name; -1 if the schedule has none so named.
func (s Schedule) SectionIndex(name string) int {
	for i, sec := range s.Sections {
		if sec.Name == name {
			return i
		}
	}
	return -1
}

// checkSections validates a layout and returns its seat count.
func checkSections(i int, secs []Section) (int, error) {
	if len(secs) > maxSections {
		return 0, Errorf(CodeBadRequest, "schedules[%d].sections: at most %d", i, maxSections)
	}
	seen := make(map[string]bool, len(secs))
	total := 0
	for j, sec := range secs {
		rule := textRule{field: "schedules[" + strconv.Itoa(i) + "].sections[" + strconv.Itoa(j) + "].name", max: maxSectionName, required: true}
		if err := rule.check(sec.Name); err != nil {
			return 0, err
		}
		if seen[sec.Name] {
			return 0, Errorf(CodeBadRequest, "schedules[%d].sections[%d].name %q is used twice", i, j, sec.Name)
		}
		seen[sec.Name] = true
		if sec.Price < 1 || sec.Price > maxPrice {
			return 0, Errorf(CodeBadRequest, "schedules[%d].sections[%d].price must be 1 to %d", i, j, maxPrice)
		}
		if sec.Rows < 1 || sec.SeatsPerRow < 1 || sec.Rows > MaxSeatCount || sec.SeatsPerRow > MaxSeatCount {
			return 0, Errorf(CodeBadRequest, "schedules[%d].sections[%d]: rows and seatsPerRow must be at least 1", i, j)
		}
		total += sec.Rows * sec.SeatsPerRow
		if total > MaxSeatCount {
			return 0, Errorf(CodeBadRequest, "schedules[%d]: at most %d seats in all", i, MaxSeatCount)
		}
	}
	return total, nil
}

// Resolved returns the schedule as the ledger stores it: with Sections, SeatCount
// is their total and Price the first one's price.
func (ns NewSchedule) Resolved() NewSchedule {
	if len(ns.Sections) == 0 {
		return ns
	}
	s := Schedule{Sections: ns.Sections}
	s.normalize()
	ns.SeatCount, ns.Price = s.SeatCount, s.Price
	return ns
}
