package api

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func mustProxies(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrustedProxies(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClientIP: from a trusted proxy the client is the rightmost hop outside the
// trusted ranges; from anyone else X-Forwarded-For counts for nothing.
func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := mustProxies(t, "10.0.0.0/8, fd00::/8, 192.0.2.10")
	tests := []struct {
		name    string
		proxies []netip.Prefix
		peer    string
		xff     []string // one entry per header line
		want    string
	}{
		{name: "no proxies configured", peer: "10.0.0.1", xff: []string{"203.0.113.9"}, want: "10.0.0.1"},
		{name: "spoofed from an untrusted peer", proxies: trusted, peer: "203.0.113.7", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "spoofed trusted hop from an untrusted peer", proxies: trusted, peer: "203.0.113.7", xff: []string{"10.0.0.9"}, want: "203.0.113.7"},
		{name: "one proxy", proxies: trusted, peer: "10.0.0.1", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "client's own header kept left of the proxy's hop", proxies: trusted, peer: "10.0.0.1", xff: []string{"198.51.100.1, 1.2.3.4, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "chain of trusted proxies", proxies: trusted, peer: "10.0.0.1", xff: []string{"198.51.100.1, 203.0.113.9, 192.0.2.10, 10.0.0.3, 10.0.0.2"}, want: "203.0.113.9"},
		{name: "several header lines", proxies: trusted, peer: "10.0.0.1", xff: []string{"198.51.100.1", "203.0.113.9, 10.0.0.2"}, want: "203.0.113.9"},
		{name: "client in the last line", proxies: trusted, peer: "10.0.0.1", xff: []string{"10.0.0.7", "203.0.113.9"}, want: "203.0.113.9"},
		{name: "every hop trusted", proxies: trusted, peer: "10.0.0.1", xff: []string{"10.0.0.5, 10.0.0.2"}, want: "10.0.0.5"},
		{name: "no header from a proxy", proxies: trusted, peer: "10.0.0.1", want: "10.0.0.1"},
		{name: "empty entries", proxies: trusted, peer: "10.0.0.1", xff: []string{" 203.0.113.9 ,, ", ""}, want: "203.0.113.9"},
		{name: "garbage behind a proxy", proxies: trusted, peer: "10.0.0.1", xff: []string{"203.0.113.9, unknown, 10.0.0.2"}, want: "10.0.0.2"},
		{name: "garbage rightmost", proxies: trusted, peer: "10.0.0.1", xff: []string{"203.0.113.9, unknown"}, want: "10.0.0.1"},
		{name: "garbage left of the client", proxies: trusted, peer: "10.0.0.1", xff: []string{"<script>, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "IPv4 with a port", proxies: trusted, peer: "10.0.0.1", xff: []string{"203.0.113.9:4711"}, want: "203.0.113.9"},
		{name: "IPv6 proxy and client", proxies: trusted, peer: "fd00::1", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "IPv6 chain, bracketed with a port", proxies: trusted, peer: "fd00::1", xff: []string{"2001:db8::1, [2001:db8::7]:4711, fd00::2"}, want: "2001:db8::7"},
		{name: "IPv4 client through IPv6 proxies", proxies: trusted, peer: "fd00::1", xff: []string{"203.0.113.9, fd12::3"}, want: "203.0.113.9"},
		{name: "IPv6 client with a zone", proxies: trusted, peer: "10.0.0.1", xff: []string{"fe80::1%eth0"}, want: "fe80::1"},
		{name: "v4-mapped peer in an IPv4 range", proxies: trusted, peer: "::ffff:10.0.0.1", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "v4-mapped hop", proxies: trusted, peer: "10.0.0.1", xff: []string{"::ffff:203.0.113.9, ::ffff:10.0.0.2"}, want: "203.0.113.9"},
		{name: "untrusted IPv6 peer", proxies: trusted, peer: "2001:db8::66", xff: []string{"203.0.113.9"}, want: "2001:db8::66"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Server{proxies: tc.proxies}
			var req fasthttp.Request
			for _, line := range tc.xff {
				req.Header.Add("X-Forwarded-For", line)
			}
			var rc fasthttp.RequestCtx
			rc.Init(&req, &net.TCPAddr{IP: net.ParseIP(tc.peer), Port: 40000}, nil)
			got := s.clientIP(&rc)
			if want := net.ParseIP(tc.want); !got.Equal(want) {
				t.Errorf("clientIP = %v, want %v", got, want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    string // the prefixes joined, or the error's text
		wantErr bool
	}{
		{in: "", want: ""},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: " 10.1.2.3/8 , fd00::/8,,", want: "10.0.0.0/8 fd00::/8"},
		{in: "192.0.2.10", want: "192.0.2.10/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "::ffff:192.0.2.10", want: "192.0.2.10/32"},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "10.0.0.0/8;fd00::/8", wantErr: true},
		{in: "lb.internal", wantErr: true},
		{in: "fe80::1%eth0", wantErr: true},
		{in: "::ffff:10.0.0.0/104", wantErr: true},
	} {
		got, err := ParseTrustedProxies(tc.in)
		if tc.wantErr {
			if err == nil || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseTrustedProxies(%q) = %v, %v; want a one-line error", tc.in, got, err)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || strings.Join(s, " ") != tc.want {
			t.Errorf("ParseTrustedProxies(%q) = %v, %v; want %s", tc.in, s, err, tc.want)
		}
	}
}

// TestRateLimitBehindProxies: behind a trusted proxy each client has its own
// allowance, and a client that rotates X-Forwarded-For, directly or through the
// proxy, still spends its one allowance.
func TestRateLimitBehindProxies(t *testing.T) {
	h, ln := buildHarnessListener(t, nil, RateLimits{IP: Limit{Rate: 1, Burst: 2}})
	h.srv.proxies = mustProxies(t, "10.0.0.0/8")
	proxy := fromAddress(h, ln, "10.0.0.1")
	direct := fromAddress(h, ln, "203.0.113.7")
	n := 0
	create := func(c *harness, xff string) response {
		n++
		return c.do("POST", "/api/users", `{"name":"a","email":"p`+itoa(int64(n))+`@example.com"}`, "X-Forwarded-For", xff)
	}

	// A client straight at concertd cannot pick its bucket with the header.
	direct.mustStatus(201, "POST", "/api/users", `{"name":"a","email":"d1@example.com"}`, "X-Forwarded-For", "198.51.100.1")
	direct.mustStatus(201, "POST", "/api/users", `{"name":"a","email":"d2@example.com"}`, "X-Forwarded-For", "198.51.100.2")
	mustLimited(t, create(direct, "198.51.100.3"), "1")

	// Through the proxy: two clients, two allowances, neither the proxy's own.
	for range 2 {
		if r := create(proxy, "203.0.113.20"); r.status != 201 {
			t.Fatalf("client 20 via proxy: %d %s", r.status, r.body)
		}
	}
	mustLimited(t, create(proxy, "203.0.113.20"), "1")
	if r := create(proxy, "203.0.113.21"); r.status != 201 {
		t.Fatalf("client 21 via proxy: %d %s", r.status, r.body)
	}
	// Client 20 rotating what it writes in front of the proxy's hop changes nothing.
	mustLimited(t, create(proxy, "1.1.1.1, 203.0.113.20"), "1")
	mustLimited(t, create(proxy, "10.9.9.9, 203.0.113.20"), "1")
}
