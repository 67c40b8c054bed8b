package grid

import (
	"net/netip"
)

// A network is the unit in which the grid counts independent results,
// caps connections and bans: an IPv4 /24 or an IPv6 /64 by default, so
// that neighbours, two addresses of one host's /64 and two spellings of one
// address are one network. Loopback is a network like any other: every
// volunteer on the server's own machine (or behind a reverse proxy that is
// not configured as trusted) is one network.

// networkOf returns the network an address belongs to, as a prefix
// string, e.g. "203.0.113.0/24". An address that does not parse is its own
// network (a transport that is not IP, such as the in-process workers).
func (c *Config) networkOf(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "other:" + addr
	}
	a = a.Unmap().WithZone("")
	bits := c.IPv6Prefix
	if a.Is4() {
		bits = c.IPv4Prefix
	}
	p, err := a.Prefix(min(bits, a.BitLen()))
	if err != nil {
		return a.String()
	}
	return p.String()
}
