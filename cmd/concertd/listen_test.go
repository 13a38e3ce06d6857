package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// TestListenIPv6: an IPv6 CONCERTD_ADDR listens on IPv6, [::] on IPv4 as well,
// and an IPv4 address stays on IPv4.
func TestListenIPv6(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr      string
		reach     []string // hosts that must answer
		unreached []string // hosts that must not
	}{
		{addr: "[::1]:0", reach: []string{"[::1]"}, unreached: []string{"127.0.0.1"}},
		{addr: "[::]:0", reach: []string{"[::1]", "127.0.0.1"}},
		{addr: "127.0.0.1:0", reach: []string{"127.0.0.1"}, unreached: []string{"[::1]"}},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			m := &Main{Config: Config{Embedded: true, Addr: tc.addr, LogLevel: "error",
				Config: engine.DefaultConfig()},
				Out: io.Discard}
			startMain(t, m)
			_, port, err := net.SplitHostPort(m.Addr)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tc.addr, "[") && !strings.HasPrefix(m.Addr, "[") {
				t.Errorf("listening on %s for %s", m.Addr, tc.addr)
			}
			client := &http.Client{Timeout: 5 * time.Second}
			for _, host := range tc.reach {
				resp, err := client.Get("http://" + host + ":" + port + "/healthz")
				if err != nil {
					t.Fatalf("%s: %v", host, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: status %d", host, resp.StatusCode)
				}
			}
			for _, host := range tc.unreached {
				if c, err := net.DialTimeout("tcp", host+":"+port, time.Second); err == nil {
					c.Close()
					t.Errorf("%s answers on port %s, listening only on %s was asked", host, port, tc.addr)
				}
			}
		})
	}
}
