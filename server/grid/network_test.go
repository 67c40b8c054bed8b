package grid

import "testing"

func TestNetworkOf(t *testing.T) {
	c := Config{}
	c.defaults()
	tests := []struct{ name, a, b string }{
		{"IPv4Neighbours", "203.0.113.7", "203.0.113.200"},
		{"IPv6SameSlash64", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9"},
		{"IPv6Spellings", "2001:db8::1", "2001:0db8:0000::0001"},
		{"IPv4MappedIPv6", "::ffff:198.51.100.4", "198.51.100.9"},
		{"Zone", "fe80::1%eth0", "fe80::2"},
		{"Loopback", "127.0.0.1", "127.0.0.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a, b := c.networkOf(tc.a), c.networkOf(tc.b); a != b {
				t.Errorf("got %s and %s, want one network", a, b)
			}
		})
	}
	apart := []struct{ name, a, b string }{
		{"IPv4OtherSlash24", "203.0.113.7", "203.0.114.7"},
		{"IPv6OtherSlash64", "2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"LoopbackOtherSlash24", "127.0.1.1", "127.0.2.1"},
	}
	for _, tc := range apart {
		t.Run(tc.name, func(t *testing.T) {
			if a, b := c.networkOf(tc.a), c.networkOf(tc.b); a == b {
				t.Errorf("got %s for both, want two networks", a)
			}
		})
	}
}
