package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// browser loads url in headless Chromium inside host h's namespace and
// returns the page's DOM once its scripts have run; with shot it also
// writes a screenshot there.
func browser(t *testing.T, h *lab.Host, url, shot string) string {
	t.Helper()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--window-size=1280,900"}
	if shot != "" {
		args = append(args, "--screenshot="+shot)
	} else {
		args = append(args, "--dump-dom")
	}
	cmd := h.Command("chromium", append(args, url)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if e, ok := err.(*exec.ExitError); ok {
			stderr = string(e.Stderr)
		}
		t.Fatalf("chromium: %v\n%s", err, stderr)
	}
	return string(out)
}

// TestPageShowsAFailover: the page at / of a backup router's API, loaded
// in headless Chromium, shows its instance as BACKUP; once the master
// dies it shows MASTER, "this node" as the VIPs' holder, and the
// transition in its timeline. A screenshot is kept in the test's
// artefacts directory ($KG_ARTIFACTS, else the system's temporary one).
func TestPageShowsAFailover(t *testing.T) {
	needRoot(t, "chromium")
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	master, backup := masterAndBackup(vip4)
	p1 := startKG(t, r1, master)
	startKGAPI(t, l, r2, backup.conf())
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	page := "http://" + apiAddr + "/"
	dom := browser(t, r2, page, "")
	if !regexp.MustCompile(`<td>VI_1</td><td class="BACKUP">BACKUP</td><td>another node</td>`).MatchString(dom) {
		t.Fatalf("the page does not show VI_1 as BACKUP:\n%s", dom)
	}
	crash(t, r1, p1)
	waitHolder(t, 5*time.Second, vip4, r2, r2)
	time.Sleep(1500 * time.Millisecond) // the history samples every second
	dom = browser(t, r2, page, "")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`<td>VI_1</td><td class="MASTER">MASTER</td><td>this node</td>`),
		regexp.MustCompile(`<td>VRRP instance VI_1</td><td class="BACKUP">BACKUP</td><td class="MASTER">MASTER</td>`),
	} {
		if !want.MatchString(dom) {
			t.Errorf("after the failover the page does not match %q:\n%s", want, dom)
		}
	}
	dir := os.Getenv("KG_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	shot := filepath.Join(dir, "keepalived-go-page.png")
	browser(t, r2, page, shot)
	if info, err := os.Stat(shot); err != nil || info.Size() == 0 {
		t.Errorf("no screenshot: %v", err)
	}
	t.Logf("screenshot of the page after the failover: %s", shot)
}
