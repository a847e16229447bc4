package vrrpd

import (
	"fmt"
	"net/netip"
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

// vrrp_vmac_handler: a word with ':' is the MAC (5 octets: the VRID is
// appended), any other the name; refused MACs are reported and ignored.
func TestUseVMACWords(t *testing.T) {
	for _, c := range []struct {
		words []string
		want  string
	}{
		{nil, " [] []"},
		{[]string{"vmx"}, "vmx [] []"},
		{[]string{"vmx", "02:11:22:33:44"}, "vmx 02:11:22:33:44 []"},
		{[]string{"02:11:22:33:44:55", "vmx"}, "vmx 02:11:22:33:44:55 []"},
		{[]string{"02:11:22:33:44:"}, " 02:11:22:33:44 []"},
		{[]string{"03:11:22:33:44"}, " [] [VMAC MAC address is multicast 03:11:22:33:44 - ignoring]"},
		{[]string{"00:00:5e:00:01"}, " [] [VMAC MAC address not allowed to be RFC5798 address (00:00:5e:00:01) - ignoring]"},
		{[]string{"02:11:22"}, " [] [VMAC invalid MAC address 02:11:22 - ignored]"},
	} {
		name, mac, problems := vmacWords(c.words)
		macText := "[]"
		if mac != nil {
			macText = mac.String()
		}
		if got := fmt.Sprintf("%s %s %v", name, macText, problems); got != c.want {
			t.Errorf("%v: %q, want %q", c.words, got, c.want)
		}
	}
}

// vrrp_ipvlan_handler: the type, the address and the name in any order.
func TestUseIPvlanWords(t *testing.T) {
	name, addr, flag, problems := ipvlanWords([]string{"private", "198.51.100.50/24", "ipv1", "vepa"})
	if name != "ipv1" || addr != netip.MustParsePrefix("198.51.100.50/24") || flag != "private" ||
		fmt.Sprint(problems) != "[ipvlan type already specified - ignoring 'vepa']" {
		t.Fatalf("%q %v %q %v", name, addr, flag, problems)
	}
	if _, addr, _, _ := ipvlanWords([]string{"2001:db8::5"}); addr != netip.MustParsePrefix("2001:db8::5/128") {
		t.Fatalf("a bare address is a host prefix: %v", addr)
	}
}
