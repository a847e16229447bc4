// Package qemu runs the IPVS tests on a real kernel: our hosts' kernels
// have no IPVS, so TestIPVSInQEMU boots Debian's cloud kernel (IPVS as
// modules) in QEMU under software emulation and runs there
//
//   - internal/lvs/ipvs's kernel tests (kernel_guest_test.go): services and
//     destinations created, listed, edited and deleted through the
//     backend, the fake kernel checked against the real one, what
//     ipvsadm makes by hand left alone;
//   - this package's director test (director_guest_test.go):
//     keepalived-go with a virtual server and busybox httpd real servers
//     in namespaces, `ipvsadm -Ln` as expected, traffic from a client
//     namespace through the VIP, a real server taken out when its
//     TCP_CHECK fails and back when it recovers, an inhibited one at
//     weight 0, reloads (unchanged: no kernel operation; one weight: one
//     edit), stop and -I; and Debian's keepalived 2.2.7 on the same
//     configuration as keepalived-go: `ipvsadm -Sn` must be the same.
//
// Both are test binaries built with the ipvsguest tag (CGO_ENABLED=0),
// beside a static keepalived-go, in an initramfs (internal/lab's Guest).
// The guest's console is the verdict; it is printed when the test fails.
package qemu

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// guestTests are the tests each guest binary must pass: a test that did
// not run fails the host test too.
var guestTests = map[string][]string{
	"ipvs": {"TestGuestFakeAnswersAsTheKernel", "TestGuestBatchAnswersAsTheFake", "TestGuestBackendAgainstTheKernel", "TestGuestPersistenceEngine"},
	"qemu": {"TestGuestDirector", "TestGuestSameTableAsKeepalived", "TestGuestStatsMatchIpvsadm", "TestGuestLVSGlobals", "TestGuestSyncDaemon", "TestGuestCheckDataLikeKeepalived",
		"TestGuestIPvlan", "TestGuestVRF", "TestGuestVRFUnicastWithoutInterface"},
}

const module = "github.com/keepalived-go/keepalived-go"

// guestRun selects the guest tests: all of them, or while working on
// some, those KG_GUEST_RUN matches (such as '^TestGuest(IPvlan|VRF)$').
var guestRun = regexp.MustCompile(cmp.Or(os.Getenv("KG_GUEST_RUN"), "^TestGuest"))

func TestIPVSInQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no QEMU guest")
	}
	if why := lab.QEMUAvailable(); why != "" {
		testenv.Unavailable(t, "the IPVS tests boot a QEMU guest; this host lacks "+why)
	}
	testenv.RequireRoot(t, "ipvsadm", "ip", "keepalived")
	dir := t.TempDir()
	began := time.Now()
	bins := map[string]string{}
	for _, b := range []struct {
		name, pkg string
		test      bool
	}{
		{"ipvs.test", module + "/internal/lvs/ipvs", true},
		{"qemu.test", module + "/test/qemu", true},
		{"keepalived-go", module + "/cmd/keepalived-go", false},
	} {
		out := filepath.Join(dir, b.name)
		if err := lab.BuildStatic(b.pkg, out, b.test, "ipvsguest"); err != nil {
			t.Fatal(err)
		}
		bins["/bin/"+b.name] = out
	}
	built := time.Since(began)
	var script strings.Builder
	script.WriteString("cd /tmp\n")
	for _, name := range slices.Sorted(maps.Keys(guestTests)) {
		fmt.Fprintf(&script, "echo '=== BEGIN %s'\n", name)
		fmt.Fprintf(&script, "KG_BINARY=/bin/keepalived-go /bin/%s.test -test.v -test.timeout 360s -test.run '%s'\n", name, guestRun.String())
		fmt.Fprintf(&script, "echo \"=== RC %s $?\"\n", name)
	}
	g := &lab.Guest{
		Modules: []string{"ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_mh", "ip_vs_pe_sip", "veth",
			"bridge", "macvlan", "ipvlan", "vrf"},
		Bins:   []string{"ip", "ipvsadm", "keepalived"},
		Files:  bins,
		Script: script.String(),
		Memory: 768,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // TCG: about 2.5 min on a quiet machine, twice that on a busy one
	defer cancel()
	booted := time.Now()
	console, err := g.Run(ctx, dir)
	t.Logf("built the binaries in %v, the guest ran %v", built.Round(time.Second), time.Since(booted).Round(time.Second))
	if path := os.Getenv("KG_QEMU_CONSOLE"); path != "" {
		os.WriteFile(path, console, 0o644)
	}
	failed := err != nil
	if err != nil {
		t.Errorf("guest: %v", err)
	}
	out := string(console)
	for name, tests := range guestTests {
		m := regexp.MustCompile(`=== RC ` + name + ` (\d+)`).FindStringSubmatch(out)
		switch {
		case m == nil:
			t.Errorf("%s.test did not finish in the guest", name)
			failed = true
		case m[1] != "0":
			t.Errorf("%s.test failed in the guest (exit %s)", name, m[1])
			failed = true
		}
		for _, test := range tests {
			if !guestRun.MatchString(test) {
				continue
			}
			if !strings.Contains(out, "--- PASS: "+test+" ") {
				t.Errorf("%s did not pass in the guest", test)
				failed = true
			}
		}
	}
	if failed || testing.Verbose() {
		t.Logf("guest console:\n%s", out)
	}
}
