package config

import (
	"fmt"
	"net/netip"
	"testing"
)

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
		{[]string{"02:11:zz:33:44"}, " [] [VMAC invalid MAC address 02:11:zz:33:44]"},
		{[]string{"averyveryverylongname"}, " [] [VMAC interface name 'averyveryverylongname' too long or invalid characters - ignoring]"},
	} {
		name, mac, problems := VMACWords(c.words)
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
	name, addr, flag, problems := IPvlanWords("VI_1", []string{"private", "198.51.100.50/24", "ipv1", "vepa"})
	if name != "ipv1" || addr != netip.MustParsePrefix("198.51.100.50/24") || flag != "private" ||
		fmt.Sprint(problems) != "[(VI_1) ipvlan type already specified - ignoring 'vepa']" {
		t.Fatalf("%q %v %q %v", name, addr, flag, problems)
	}
	if _, addr, _, _ := IPvlanWords("VI_1", []string{"2001:db8::5"}); addr != netip.MustParsePrefix("2001:db8::5/128") {
		t.Fatalf("a bare address is a host prefix: %v", addr)
	}
}
