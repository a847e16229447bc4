package daemon

import (
	"bytes"
	"log/syslog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/cli"
)

// -g writes keepalived's log file lines beside the console's.
func TestLogFileHasKeepalivedsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keepalived.log")
	var console bytes.Buffer
	log := newLogger(&cli.Flags{Values: map[string]string{"log-console": "", "log-file": path}}, &console)
	log.Info("(VI_1) Entering MASTER STATE", "instance", "VI_1")
	log.With("vs", "[10.0.0.1]:tcp:80").Warn("quorum lost")
	log.Debug("not without -D")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{9} \d{4}: \(VI_1\) Entering MASTER STATE instance=VI_1\n` +
		`[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{9} \d{4}: quorum lost vs=\[10.0.0.1\]:tcp:80\n$`)
	if !want.Match(b) {
		t.Errorf("log file:\n%s", b)
	}
	if !strings.Contains(console.String(), `msg="(VI_1) Entering MASTER STATE"`) {
		t.Errorf("console: %s", console.String())
	}
}

func TestLogFacilityAsKeepalivedReadsIt(t *testing.T) {
	for in, want := range map[string]syslog.Priority{"0": syslog.LOG_LOCAL0, "7": syslog.LOG_LOCAL7, "local3": syslog.LOG_LOCAL3,
		"daemon": syslog.LOG_DAEMON, "user": syslog.LOG_USER} {
		if got, err := logFacility(in); err != nil || got != want {
			t.Errorf("-S %s: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"8", "local8", "local", "kern", ""} {
		if got, err := logFacility(bad); err == nil || got != syslog.LOG_DAEMON || !strings.Contains(err.Error(), "Invalid log facility") {
			t.Errorf("-S %q: %v, %v; want keepalived's refusal and daemon", bad, got, err)
		}
	}
}
