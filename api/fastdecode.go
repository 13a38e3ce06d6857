package api

// The token and hold bodies are one or two small integers, sent by every client of a
// rush in the same shape. encoding/json costs ~5% of concertd's CPU on those endpoints,
// so that exact shape is read by hand first: one or both of two given keys, in either
// order, each once, with positive integer values and nothing else. Anything else (other keys,
// escapes, signs, big numbers, nulls, duplicates) goes to the general decoder, so the
// fast path only ever accepts bodies the general one reads to the same values
// (FuzzFastPairMatchesDecoder checks that).

// fastPair reads `{"a": n, "b": m}` (either order, JSON whitespace anywhere) where n
// and m are positive integers of at most 18 digits; ok is false for anything else.
func fastPair(body []byte, a, b string) (na, nb int64, ok bool) {
	na, nb, seenA, seenB, ok := fastInts(body, a, b)
	return na, nb, ok && seenA && seenB
}

// fastInts is fastPair that also takes a body with only one of the two keys (a
// token request names the concert and lets the credential name the user); seenA
// and seenB tell which were there.
func fastInts(body []byte, a, b string) (na, nb int64, seenA, seenB, ok bool) {
	p := pairParser{s: body}
	p.ws()
	if !p.byte('{') {
		return 0, 0, false, false, false
	}
	for i := 0; i < 2; i++ {
		if i == 1 {
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return 0, 0, false, false, false
			}
		}
		p.ws()
		key, ok := p.key()
		if !ok || !p.byte(':') {
			return 0, 0, false, false, false
		}
		p.ws()
		n, ok := p.positive()
		if !ok {
			return 0, 0, false, false, false
		}
		switch {
		case key == a && !seenA:
			na, seenA = n, true
		case key == b && !seenB:
			nb, seenB = n, true
		default:
			return 0, 0, false, false, false
		}
		p.ws()
		if i == 1 && !p.byte('}') {
			return 0, 0, false, false, false
		}
	}
	p.ws()
	return na, nb, seenA, seenB, p.i == len(p.s)
}

type pairParser struct {
	s []byte
	i int
}

func (p *pairParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *pairParser) byte(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// key reads a quoted key of plain letters (no escapes), then the whitespace after it.
func (p *pairParser) key() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			k := string(p.s[start:p.i])
			p.i++
			p.ws()
			return k, true
		}
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return "", false
		}
		p.i++
	}
	return "", false
}

// positive reads [1-9][0-9]{0,17}: always within int64, never a leading zero.
func (p *pairParser) positive() (int64, bool) {
	start := p.i
	var n int64
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		n = n*10 + int64(p.s[p.i]-'0')
		p.i++
	}
	digits := p.i - start
	if digits == 0 || digits > 18 || p.s[start] == '0' {
		return 0, false
	}
	// A number must end here: "12.5", "1e3" and "12x" are not integers.
	if p.i < len(p.s) {
		switch p.s[p.i] {
		case '.', 'e', 'E', '-', '+':
			return 0, false
		}
	}
	return n, true
}
