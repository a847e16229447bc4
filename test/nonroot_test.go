package test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// TestRunsAsNonRootWithCapabilities: keepalived-go runs as an
// unprivileged user holding only CAP_NET_ADMIN and CAP_NET_RAW (as the
// README's unit file snippet grants them), becomes master, holds the VIP
// and hands it over to the backup when it stops, with a notify script
// run as that user.
func TestRunsAsNonRootWithCapabilities(t *testing.T) {
	needRoot(t, "setpriv")
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	// The user needs to write its pid files and dumps: the lab's
	// directory, opened to it.
	if err := os.Chmod(l.Dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	script, out := recordingScript(t, l, "notify", `"$(id -u)"`)
	os.Chmod(script, 0o755)
	master, backup := masterAndBackup(vip4)
	conf := strings.Replace(master.conf(), "    priority 150\n", "    priority 150\n    notify_master "+script+"\n", 1)
	conf = strings.Replace(conf, "global_defs {\n", "global_defs {\n    script_user nobody\n    enable_script_security\n", 1)
	path, err := l.WriteFile("r1-nonroot.conf", conf)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	args := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all,+net_admin,+net_raw", "--ambient-caps=+net_admin,+net_raw", "--bounding-set=-all,+net_admin,+net_raw",
		binary, "-n", "-l", "-D", "-f", path}, r1.PidArgs("nonroot")...)
	p1, err := r1.Start("setpriv", args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p1.Stop(); dumpLogOnFailure(t, r1, p1) })
	startKG(t, r2, backup)
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	status, _ := os.ReadFile("/proc/" + strconv.Itoa(p1.Pid()) + "/status")
	if !strings.Contains(string(status), "Uid:\t65534") {
		t.Fatalf("the daemon does not run as nobody:\n%s", status)
	}
	if err := lab.WaitUntil("the notify script ran as nobody", 5*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == "65534\n"
	}); err != nil {
		b, _ := os.ReadFile(out)
		t.Fatalf("%v: %q", err, b)
	}
	p1.Signal(syscall.SIGTERM) // a graceful stop: the VIP removed, without root
	if err := p1.Wait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)
	if strings.Contains(p1.Log(), "level=ERROR") {
		t.Errorf("errors without root:\n%s", p1.Log())
	}
}
