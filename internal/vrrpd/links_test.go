package vrrpd

import (
	"fmt"
	"testing"
)

// create_vmac_name's order (keepalived/vrrp/vrrp.c): prefix.VRID, then
// prefixN.VRID; an IPv6 instance tries N = 6 first and skips it later.
func TestVMACNamesInKeepalivedsOrder(t *testing.T) {
	for _, c := range []struct {
		prefix string
		family int
		want   string
	}{
		{"vrrp", 4, "[vrrp.51 vrrp1.51 vrrp2.51 vrrp3.51 vrrp4.51 vrrp5.51 vrrp6.51 vrrp7.51]"},
		{"vrrp", 6, "[vrrp.51 vrrp6.51 vrrp1.51 vrrp2.51 vrrp3.51 vrrp4.51 vrrp5.51 vrrp7.51]"},
		{"averyverylongprefix", 4, "[averyverylon.51 averyverylon.51]"},
	} {
		var got []string
		vmacNames(c.prefix, 51, c.family, func(n string) bool { got = append(got, n); return len(got) < 8 && (c.prefix == "vrrp" || len(got) < 2) })
		if fmt.Sprint(got) != c.want {
			t.Errorf("%s IPv%d: %v, want %s", c.prefix, c.family, got, c.want)
		}
	}
}
