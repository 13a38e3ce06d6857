package api

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// trustedProxies are the load balancers in front of concertd (TRUSTED_PROXIES).
// Only they may say, in X-Forwarded-For, whom a request came from.
type trustedProxies []netip.Prefix

func (p trustedProxies) contains(a netip.Addr) bool {
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads TRUSTED_PROXIES: comma-separated CIDRs ("10.0.0.0/8,
// fd00::/8"); a bare address is its own /32 or /128. Empty is none.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not a CIDR (10.0.0.0/8, fd00::/8) or an address", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			// Peers and hops are compared unmapped, so such a range would match nothing.
			return nil, fmt.Errorf("%q: write IPv4 ranges as IPv4 (10.0.0.0/8)", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientIP is the address of the client a request came from, the unit the
// per-address rate limits count.
//
// From a trusted proxy it is the rightmost X-Forwarded-For hop outside the
// trusted ranges: each proxy appends the address it was reached from, so the
// hops right of that one were written by our own proxies and it by the last of
// them, while anything left of it came from the client, who can write anything.
// If every hop is trusted, the leftmost is the client (a request from inside).
// A hop that is not an address stops the walk at the nearest proxy, whose own
// address is then the client's: a proxy of ours wrote something we cannot read,
// and guessing past it would let the text choose the bucket.
//
// From any other peer X-Forwarded-For is ignored, whatever it says.
func (s *Server) clientIP(rc *fasthttp.RequestCtx) net.IP {
	peerIP := rc.RemoteIP()
	if len(s.proxies) == 0 {
		return peerIP
	}
	peer, ok := netip.AddrFromSlice(peerIP)
	if peer = peer.Unmap(); !ok || !s.proxies.contains(peer) {
		return peerIP
	}
	client := peer
	lines := rc.Request.Header.PeekAll(fasthttp.HeaderXForwardedFor)
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for len(line) > 0 {
			hop := line
			if j := bytes.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				line = nil
			}
			hop = bytes.TrimSpace(hop)
			if len(hop) == 0 {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				return net.IP(client.AsSlice())
			}
			client = a
			if !s.proxies.contains(a) {
				return net.IP(a.AsSlice())
			}
		}
	}
	return net.IP(client.AsSlice())
}

// parseHop reads one X-Forwarded-For entry: an address, or (as some load
// balancers write it) an address with a port, IPv6 then in brackets.
func parseHop(b []byte) (netip.Addr, bool) {
	s := string(b)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap(), true
}
