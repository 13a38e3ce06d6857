package api

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// The hot endpoints (queue status, seat map, errors) encode by appending into a
// reused buffer: encoding/json's reflection costs more than the rest of a status
// poll. The rest use encoding/json, where clarity wins.

type buffer struct{ b []byte }

// bufferPool hands out append buffers; a buffer that grew past maxPooled is left
// to the GC so one huge answer does not pin memory forever.
type bufferPool struct{ p sync.Pool }

const maxPooled = 64 << 10

var bufPool = bufferPool{p: sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, 512)} }}}

func (p *bufferPool) get() *buffer { return p.p.Get().(*buffer) }

func (p *bufferPool) put(b *buffer) {
	if cap(b.b) > maxPooled {
		return
	}
	b.b = b.b[:0]
	p.p.Put(b)
}

const contentTypeJSON = "application/json"

// writeJSON sets status and a copy of body; body may be reused afterwards.
func writeJSON(rc *fasthttp.RequestCtx, status int, body []byte) {
	rc.SetStatusCode(status)
	rc.SetContentType(contentTypeJSON)
	rc.SetBody(body)
}

// writeValue answers with v through encoding/json.
func writeValue(rc *fasthttp.RequestCtx, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rc.SetStatusCode(status)
	rc.SetContentType(contentTypeJSON)
	rc.Response.SetBodyRaw(body) // body is ours alone; no need for fasthttp to copy it
	return nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD and
// U+2028/U+2029 are escaped, as encoding/json does, so either encoder gives a
// client the same text.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendInstant appends t as a quoted RFC 3339 UTC instant without fractions.
func appendInstant(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// instant is the contract's form of a time for encoding/json answers.
func instant(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// appendStatusFields appends a queue status's fields, without braces, so the
// status poll and the token grant share one encoding.
func appendStatusFields(b []byte, q engine.QueueStatus) []byte {
	b = append(b, `"concertId":`...)
	b = strconv.AppendInt(b, q.ConcertID, 10)
	b = append(b, `,"status":`...)
	b = appendString(b, string(q.State))
	switch q.State {
	case engine.TokenWaiting:
		if q.PreQueue {
			b = append(b, `,"saleOpensAt":`...)
			b = appendInstant(b, q.SaleOpensAt)
		} else {
			b = append(b, `,"position":`...)
			b = strconv.AppendInt(b, q.Position, 10)
			b = append(b, `,"estimatedWaitSeconds":`...)
			b = strconv.AppendInt(b, seconds(q.EstimatedWait), 10)
		}
		b = append(b, `,"pollAfterSeconds":`...)
		b = strconv.AppendInt(b, seconds(q.PollAfter), 10)
	case engine.TokenActive:
		b = append(b, `,"expiresAt":`...)
		b = appendInstant(b, q.ExpiresAt)
	}
	return b
}

// seconds rounds up, so a client told to wait never polls before it should.
func seconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}

// seatMapBodies caches each schedule's encoded seat map for the view the engine
// returned: the engine serves one *SeatMapView for ~100ms, so under a rush one
// encoding (and one gzip) serves every request in that window.
type seatMapBodies struct {
	mu sync.Mutex
	m  map[int64]*seatMapBody
}

type seatMapBody struct {
	view *engine.SeatMapView

	plainOnce sync.Once
	plain     []byte
	gzipOnce  sync.Once
	gzipped   []byte
}

// body returns the cached encoding of v, replacing the schedule's older one. The
// cache holds the view it was built from, so its pointer cannot be reused for a
// different view while it is the key.
func (c *seatMapBodies) body(v *engine.SeatMapView) *seatMapBody {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int64]*seatMapBody{}
	}
	e := c.m[v.ScheduleID]
	if e == nil || e.view != v {
		e = &seatMapBody{view: v}
		c.m[v.ScheduleID] = e
	}
	return e
}

// Plain is the JSON body; computed once per view. The result is shared and must
// not be modified.
func (e *seatMapBody) Plain() []byte {
	e.plainOnce.Do(func() { e.plain = encodeSeatMap(e.view) })
	return e.plain
}

// Gzipped is Plain compressed; computed once per view, and only if asked for.
func (e *seatMapBody) Gzipped() []byte {
	e.gzipOnce.Do(func() {
		e.gzipped = fasthttp.AppendGzipBytesLevel(nil, e.Plain(), fasthttp.CompressBestSpeed)
	})
	return e.gzipped
}

func encodeSeatMap(v *engine.SeatMapView) []byte {
	st := staticsFor(v)
	// Sized once: copying a multi-megabyte body as it grows would cost more than
	// the encoding.
	b := make([]byte, 0, 64+len(v.Seats)*36+len(st.body))
	b = append(b, `{"concertScheduleId":`...)
	b = strconv.AppendInt(b, v.ScheduleID, 10)
	b = append(b, `,"availableSeats":[`...)
	for i, s := range v.Seats {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"seatNumber":`...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, `,"status":`...)
		b = appendString(b, s.String())
		b = append(b, st.tail(i+1)...)
	}
	return append(b, ']', '}')
}
