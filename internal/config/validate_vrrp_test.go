package config

import (
	"fmt"
	"strings"
	"testing"
)

// A kernel without ipvlan or VRF cannot honour use_ipvlan or vrf: -t says
// so on their lines (keepalived says nothing); with them, nothing is said.
func TestKernelWithoutIPvlanOrVRF(t *testing.T) {
	text := `vrrp_instance VI_1 {
    interface eth0
    use_ipvlan ipv1 192.0.2.21/24
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.1/24
    }
}
vrrp_instance VI_2 {
    vrf blue
    virtual_router_id 52
    unicast_src_ip 192.0.2.10
    unicast_peer {
        192.0.2.11
    }
    virtual_ipaddress {
        192.0.2.2/24 dev eth0
    }
}
`
	for _, has := range []bool{false, true} {
		opts := testOpts
		opts.KernelHas = func(string) bool { return has }
		_, diags := LoadBytes("test.conf", []byte(text), opts)
		var got []string
		for _, d := range diags {
			if d.Extra && strings.Contains(d.Msg, "cannot be honoured") {
				got = append(got, fmt.Sprintf("%s@%d", d.Keyword, d.Line))
			}
		}
		want := "[use_ipvlan@3 vrf@10]"
		if has {
			want = "[]"
		}
		if s := strings.Join(got, " "); "["+s+"]" != want {
			t.Errorf("kernel has them: %v: got [%s], want %s\n%v", has, s, want, diags)
		}
	}
}
