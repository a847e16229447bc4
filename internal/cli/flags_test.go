package cli

import (
	"reflect"
	"testing"
)

func TestParseKeepalivedCommandLines(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"debian systemd unit", []string{"--dont-fork", "-D"}, map[string]string{"dont-fork": "", "log-detail": ""}},
		{"combined short flags", []string{"-lnD"}, map[string]string{"log-console": "", "dont-fork": "", "log-detail": ""}},
		{"attached short argument", []string{"-f/etc/k.conf"}, map[string]string{"use-file": "/etc/k.conf"}},
		{"separate short argument", []string{"-f", "/etc/k.conf", "-i", "lb1"}, map[string]string{"use-file": "/etc/k.conf", "config-id": "lb1"}},
		{"flags then argument", []string{"-lf", "k.conf"}, map[string]string{"log-console": "", "use-file": "k.conf"}},
		{"long with =", []string{"--use-file=k.conf", "--signum=RELOAD"}, map[string]string{"use-file": "k.conf", "signum": "RELOAD"}},
		{"long with separate argument", []string{"--use-file", "k.conf"}, map[string]string{"use-file": "k.conf"}},
		{"-t without log file", []string{"-t", "-f", "k.conf"}, map[string]string{"config-test": "", "use-file": "k.conf"}},
		{"-t with attached log file", []string{"-t/tmp/log", "-f", "k.conf"}, map[string]string{"config-test": "/tmp/log", "use-file": "k.conf"}},
		{"--config-test=FILE", []string{"--config-test=/tmp/log"}, map[string]string{"config-test": "/tmp/log"}},
		{"pid files", []string{"-p", "/run/a.pid", "-r", "/run/v.pid", "-c", "/run/c.pid", "-b", "/run/b.pid"},
			map[string]string{"pid": "/run/a.pid", "vrrp_pid": "/run/v.pid", "checkers_pid": "/run/c.pid", "bfd_pid": "/run/b.pid"}},
		{"subsystems", []string{"-P", "-C", "-B", "--all"}, map[string]string{"vrrp": "", "check": "", "no_bfd": "", "all": ""}},
		{"release flags", []string{"-X", "-V", "-I", "-R"}, map[string]string{"release-vips": "", "dont-release-vrrp": "", "dont-release-ipvs": "", "dont-respawn": ""}},
		// keepalived-go's own long-only options.
		{"api-listen with =", []string{"-n", "--api-listen=127.0.0.1:9165"}, map[string]string{"dont-fork": "", "api-listen": "127.0.0.1:9165"}},
		{"api-listen with separate argument", []string{"--api-listen", "[::1]:9165", "-l"}, map[string]string{"api-listen": "[::1]:9165", "log-console": ""}},
		{"lvs-backend", []string{"--lvs-backend=nftables", "-I"}, map[string]string{"lvs-backend": "nftables", "dont-release-ipvs": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.args)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(f.Values, tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.args, f.Values, tt.want)
			}
		})
	}
}

func TestParseRejectsWhatKeepalivedRejects(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"-Z"}, {"-f"}, {"--use-file"}, {"--dont-fork=yes"}, {"-lZ"}, {"--api-listen"}, {"--lvs-backend"}} {
		if _, err := Parse(args); err == nil {
			t.Errorf("Parse(%q) accepted, keepalived rejects it", args)
		}
	}
}

func TestSignumMatchesKeepalived(t *testing.T) {
	// Values printed by Debian's keepalived 2.2.7 --signum=NAME on x86-64.
	want := map[string]int{"STOP": 15, "RELOAD": 1, "DATA": 10, "STATS": 12, "STATS_CLEAR": 63, "JSON": 36}
	for name, n := range want {
		if got, ok := Signum(name); !ok || got != n {
			t.Errorf("Signum(%s) = %d, %v; want %d", name, got, ok, n)
		}
	}
	for _, name := range []string{"TDATA", "TDUMP", "stop", ""} {
		if _, ok := Signum(name); ok {
			t.Errorf("Signum(%q) accepted; keepalived prints Unknown sigfunc", name)
		}
	}
}

func TestLVSBackend(t *testing.T) {
	for args, want := range map[string]string{"": "auto", "--lvs-backend=auto": "auto", "--lvs-backend=ipvs": "ipvs", "--lvs-backend=nftables": "nftables"} {
		var argv []string
		if args != "" {
			argv = []string{args}
		}
		f, err := Parse(argv)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.LVSBackend(); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", args, got, err, want)
		}
	}
	for _, bad := range []string{"--lvs-backend=iptables", "--lvs-backend=NFTABLES"} {
		f, err := Parse([]string{bad})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.LVSBackend(); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}
