package test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLoadBalancingDemo runs the README's demo of load balancing
// (go run ./cmd/kglab -lb) and checks what it printed: the checker takes
// the dead real server out and puts it back, the backup director takes
// the VIP when the master dies and gives it back, the client's requests
// spread over the three real servers at the end without a failure, and
// its outages are reported in milliseconds.
func TestLoadBalancingDemo(t *testing.T) {
	needRoot(t, "nft", "sysctl")
	kglab := filepath.Join(t.TempDir(), "kglab")
	if out, err := exec.Command("go", "build", "-o", kglab, "github.com/keepalived-go/keepalived-go/cmd/kglab").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(kglab, "-lb", "-bin", binary)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the demo ran over 2 minutes:\n%s", out)
	}
	text := string(out)
	if err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, text)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`d1's HTTP_GET took web2 out after [0-9.]+m?s`),
		regexp.MustCompile(`d2 holds the VIP [0-9.]+m?s later`),
		regexp.MustCompile(`d2's HTTP_GET put web2 back after [0-9.]+m?s`),
		regexp.MustCompile(`d1 preempts d2 [0-9.]+m?s after its start`),
		regexp.MustCompile(`(?s)web2 out.*client since the last step: web1 [0-9]+%, web2 0%, web3 [0-9]+%`),
		regexp.MustCompile(`(?s)all back: d1 master.*VI_1\s+MASTER.*client since the last step: web1 3[0-9]%, web2 3[0-9]%, web3 3[0-9]%; 0 of [0-9]+ requests failed`),
		regexp.MustCompile(`the client made [0-9]+ requests in [0-9.]+ s; outages it saw:\n(   at .* ms without an answer .*\n|   none\n)`),
	} {
		if !want.MatchString(text) {
			t.Errorf("the demo did not print %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "not running") && !strings.Contains(text, "d1: not running") {
		t.Errorf("a director other than the killed one was not running:\n%s", text)
	}
}
