package rushtest

import (
	"testing"
	"time"
)

func TestMoneyCheck(t *testing.T) {
	m := MoneyCheck{Charged: 1000, FinalBalances: 400, Paid: 600}
	if !m.OK() {
		t.Errorf("conserved money reported as broken")
	}
	m.Paid = 500
	if m.OK() {
		t.Errorf("missing 100 not noticed")
	}
}

func TestDuplicateSeats(t *testing.T) {
	p := []Purchase{{ScheduleID: 1, Seat: 1}, {ScheduleID: 1, Seat: 2}, {ScheduleID: 2, Seat: 1}}
	if d := DuplicateSeats(p); len(d) != 0 {
		t.Errorf("no duplicates expected: %v", d)
	}
	p = append(p, Purchase{ScheduleID: 1, Seat: 2})
	if d := DuplicateSeats(p); len(d) != 1 || d[0] != "schedule 1 seat 2 ×2" {
		t.Errorf("duplicates = %v", d)
	}
}

func TestParseSeatMap(t *testing.T) {
	body := []byte(`{"concertScheduleId":1,"availableSeats":[{"seatNumber":1,"status":"available","price":5},` +
		`{"seatNumber":2,"status":"pending","price":5},{"seatNumber":3,"status":"reserved","price":5},{"seatNumber":14,"status":"available","price":5}]}`)
	avail, pending, st := ParseSeatMap(body)
	_, _, reserved := ScanSeatMap(body, nil)
	if len(avail) != 2 || avail[0] != 1 || avail[1] != 14 || pending != 1 || reserved != 1 || st[3] != 'r' || st[2] != 'p' {
		t.Errorf("ParseSeatMap = %v %d %d %v", avail, pending, reserved, st)
	}
}

// TestCheckAdmission: the check passes a steady rate at or under the setting and
// catches a burst beyond the one-second bucket or more than maxActive at once.
func TestCheckAdmission(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	// steady: a sample a second, admitted grows by perSecond, active as given.
	steady := func(perSecond int64, actives ...int64) []AdmissionSample {
		ss := make([]AdmissionSample, len(actives))
		for i, a := range actives {
			at := t0.Add(time.Duration(i) * time.Second)
			ss[i] = AdmissionSample{Sent: at, Recv: at.Add(10 * time.Millisecond), Admitted: int64(i) * perSecond, Active: a, Waiting: 1000}
		}
		return ss
	}
	burst := steady(100, 10, 10, 10, 10)
	burst[3].Admitted += 250
	cases := []struct {
		name string
		ss   []AdmissionSample
		ok   bool
	}{
		{"at the rate", steady(100, 100, 200, 300, 400), true},
		{"under the rate", steady(50, 10, 20, 30, 40), true},
		{"burst beyond the bucket", burst, false},
		{"over maxActive", steady(100, 100, 2001, 300, 400), false},
		{"one sample says nothing", steady(100, 100), false},
	}
	for _, tc := range cases {
		if got := CheckAdmission(tc.ss, 100, 2000); got.OK() != tc.ok {
			t.Errorf("%s: %+v, ok = %v, want %v", tc.name, got, got.OK(), tc.ok)
		}
	}
}
