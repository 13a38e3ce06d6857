package api

import (
	"strconv"
	"sync"

	"github.com/concertd/concertd/engine"
)

// seatStatics is the part of every seat-map entry that never changes for a
// schedule: price, section, row, seat and label, already JSON. A 100,000-seat
// map is encoded for every view the engine serves (every ~100 ms under a rush),
// so these bytes are built once per schedule and copied, never formatted again.
type seatStatics struct {
	sections []engine.Section // what they were built from (compared by identity)
	body     []byte           // every seat's tail, back to back, each ending in '}'
	ends     []int32          // ends[i] = end of seat i+1's tail in body
}

// tail is seat n's static tail: `,"price":…,"section":…,"row":…,"seat":…,"label":…}`.
func (s *seatStatics) tail(n int) []byte {
	start := int32(0)
	if n > 1 {
		start = s.ends[n-2]
	}
	return s.body[start:s.ends[n-1]]
}

var staticsCache sync.Map // schedule id -> *seatStatics

// staticsFor returns the schedule's seat tails, building them on first use or
// when the catalog handed out a new layout slice (a reload).
func staticsFor(v *engine.SeatMapView) *seatStatics {
	secs := v.Sections
	if len(secs) == 0 {
		secs = []engine.Section{{Name: engine.DefaultSection, Price: v.Price, Rows: 1, SeatsPerRow: len(v.Seats)}}
	}
	if x, ok := staticsCache.Load(v.ScheduleID); ok {
		st := x.(*seatStatics)
		if len(st.ends) == len(v.Seats) && len(v.Sections) > 0 && len(st.sections) > 0 && &st.sections[0] == &v.Sections[0] {
			return st
		}
	}
	st := buildStatics(secs, len(v.Seats))
	if len(v.Sections) > 0 {
		st.sections = v.Sections
		staticsCache.Store(v.ScheduleID, st)
	}
	return st
}

func buildStatics(secs []engine.Section, seats int) *seatStatics {
	st := &seatStatics{ends: make([]int32, 0, seats), body: make([]byte, 0, seats*72)}
	for _, sec := range secs {
		price := strconv.AppendInt(nil, sec.Price, 10)
		name := appendString(nil, sec.Name)
		for r := 1; r <= sec.Rows; r++ {
			for n := 1; n <= sec.SeatsPerRow; n++ {
				if len(st.ends) == seats {
					return st
				}
				b := st.body
				b = append(b, `,"price":`...)
				b = append(b, price...)
				b = append(b, `,"section":`...)
				b = append(b, name...)
				b = append(b, `,"row":`...)
				b = strconv.AppendInt(b, int64(r), 10)
				b = append(b, `,"seat":`...)
				b = strconv.AppendInt(b, int64(n), 10)
				b = append(b, `,"label":`...)
				b = appendString(b, sec.Name+"-"+strconv.Itoa(r)+"-"+strconv.Itoa(n))
				b = append(b, '}')
				st.body = b
				st.ends = append(st.ends, int32(len(b)))
			}
		}
	}
	// A view longer than its layout (never from the engine) keeps valid JSON.
	for len(st.ends) < seats {
		st.body = append(st.body, '}')
		st.ends = append(st.ends, int32(len(st.body)))
	}
	return st
}
