//go:build linux

package config

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kernelConfigSymbols are the kernel options of the link types KernelHas
// knows, with their module names.
var kernelConfigSymbols = map[string]struct{ symbol, module string }{
	"ipvlan": {"CONFIG_IPVLAN", "ipvlan"},
	"vrf":    {"CONFIG_NET_VRF", "vrf"},
}

// kernelHas tells whether the running kernel has the link type kind, built
// in or as a module it can load: a loaded module (/sys/module), else the
// kernel's configuration (/proc/config.gz, /boot/config-RELEASE), else
// the module lists of /lib/modules/RELEASE. When nothing tells, it says
// yes: only a kernel known to lack it is reported.
func kernelHas(kind string) bool {
	k, ok := kernelConfigSymbols[kind]
	if !ok {
		return true
	}
	if _, err := os.Stat("/sys/module/" + k.module); err == nil {
		return true
	}
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return true
	}
	release := unix.ByteSliceToString(u.Release[:])
	modules := "/lib/modules/" + release + "/"
	if value, known := kernelConfigValue(release, k.symbol); known {
		switch value {
		case "y":
			return true
		case "m":
			// Built as a module: loadable if it is installed.
			b, err := os.ReadFile(modules + "modules.dep")
			return err != nil || bytes.Contains(b, []byte("/"+k.module+".ko"))
		}
		return false
	}
	for _, f := range []string{"modules.builtin", "modules.dep"} {
		if b, err := os.ReadFile(modules + f); err == nil && bytes.Contains(b, []byte("/"+k.module+".ko")) {
			return true
		}
	}
	if _, err := os.Stat(modules + "modules.dep"); err == nil {
		return false // the lists are there and do not have it
	}
	return true
}

// kernelConfigValue is symbol's value in the running kernel's
// configuration ("y", "m", "" when not set) and whether the
// configuration could be read.
func kernelConfigValue(release, symbol string) (string, bool) {
	var r io.Reader
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if gz, err := gzip.NewReader(f); err == nil {
			r = gz
		}
	}
	if r == nil {
		f, err := os.Open("/boot/config-" + release)
		if err != nil {
			return "", false
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), symbol+"="); ok {
			return v, true
		}
	}
	return "", sc.Err() == nil
}
