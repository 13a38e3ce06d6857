package engine

import (
	"strings"
	"testing"
	"time"
)

func TestTokenSignVerify(t *testing.T) {
	s := newSigner([]byte("secret"))
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tok := Token{ConcertID: 3, UserID: 77, Gen: 2, IssuedAt: now}
	raw := s.Sign(tok)
	if raw != s.Sign(tok) {
		t.Fatal("the same token must sign to the same string")
	}
	got, err := s.Verify(raw, now.Add(time.Hour), 24*time.Hour)
	if err != nil || got != tok {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, tok)
	}
	other := newSigner([]byte("other"))
	flip := func(r string, i int) string {
		b := []byte(r)
		b[i] ^= 1
		return string(b)
	}
	cases := []struct {
		name string
		raw  string
		want error
	}{
		{"empty", "", ErrTokenMissing},
		{"garbage", "hello", ErrTokenInvalid},
		{"other key", other.Sign(tok), ErrTokenInvalid},
		{"altered user", strings.Replace(raw, ".77.", ".78.", 1), ErrTokenInvalid},
		{"altered mac", flip(raw, len(raw)-3), ErrTokenInvalid},
		{"truncated mac", raw[:len(raw)-1], ErrTokenInvalid},
		{"too long", raw + strings.Repeat("A", 300), ErrTokenInvalid},
		{"no version", raw[3:], ErrTokenInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Verify(c.raw, now, 24*time.Hour); err != c.want {
				t.Fatalf("Verify(%q) = %v, want %v", c.raw, err, c.want)
			}
		})
	}
	if _, err := s.Verify(raw, now.Add(24*time.Hour), 24*time.Hour); err != ErrTokenExpired {
		t.Fatalf("a day-old token: %v, want ErrTokenExpired", err)
	}
}

func FuzzVerifyToken(f *testing.F) {
	s := newSigner([]byte("k"))
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	f.Add(s.Sign(Token{ConcertID: 1, UserID: 2, Gen: 1, IssuedAt: now}))
	f.Add("v1.1.2.3.4.")
	f.Add("v1.-1.2.3.4.AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := s.Verify(raw, now, 24*time.Hour)
		if err == nil && s.Sign(tok) != raw {
			t.Fatalf("accepted %q, which is not the canonical signature of %+v", raw, tok)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	s := newSigner([]byte("secret"))
	now := time.Now()
	raw := s.Sign(Token{ConcertID: 1, UserID: 123456, Gen: 1, IssuedAt: now})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(raw, now, 24*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
