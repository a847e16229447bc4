//go:build linux

package kernel

import (
	"bytes"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// HasIPVS tells whether the kernel offers IPVS: its generic netlink
// family "IPVS" is registered (ip_vs loaded or built in), or ip_vs is a
// module keepalived would load (modprobe ip_vs).
func HasIPVS() bool {
	if _, err := netlink.GenlFamilyGet("IPVS"); err == nil {
		return true
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	dir := "/lib/modules/" + unix.ByteSliceToString(u.Release[:]) + "/"
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		if b, err := os.ReadFile(dir + f); err == nil && bytes.Contains(b, []byte("/ip_vs.ko")) {
			return true
		}
	}
	return false
}
