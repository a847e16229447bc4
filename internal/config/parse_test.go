package config

import (
	"bytes"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

var testOpts = Options{
	ConfigID:        "testhost",
	InterfaceExists: func(n string) bool { return n == "lo" || n == "eth0" || n == "eth1" || n == "eth2" || n == "eth3" },
	UserExists:      func(n string) bool { return n == "root" || n == "nobody" },
	// lo is the only loopback interface.
	LoopbackInterface: func(n string) bool { return n == "lo" },
}

func load(t *testing.T, text string) (*Config, Diagnostics) {
	t.Helper()
	return LoadBytes("test.conf", []byte(text), testOpts)
}

// parse preprocesses and parses without validating, so that the model is
// exactly what was written.
func parse(t *testing.T, text string) (*Config, Diagnostics) {
	t.Helper()
	lines, diags := PreprocessBytes("test.conf", []byte(text), LexOptions{ConfigID: "testhost"})
	cfg, pdiags := Parse(lines)
	return cfg, append(diags, pdiags...)
}

func TestParseVRRPInstance(t *testing.T) {
	cfg, diags := parse(t, `
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.5
    version 3
    nopreempt
    authentication {
        auth_type PASS
        auth_pass secret
    }
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2 min_ttl 250
        192.0.2.3
    }
    virtual_ipaddress {
        192.0.2.100/24 dev eth0 label eth0:1
        2001:db8::1
    }
    track_script {
        chk_haproxy weight -20
    }
    notify_master "/usr/local/bin/notify master" root
}`)
	if len(diags) != 0 {
		t.Errorf("unexpected findings: %v", diags)
	}
	if len(cfg.Instances) != 1 {
		t.Fatalf("instances = %d, want 1", len(cfg.Instances))
	}
	vi := cfg.Instances[0]
	if vi.Name() != "VI_1" || vi.State != "MASTER" || vi.Interface != "eth0" || vi.VRID != 51 || vi.Priority != 150 || vi.Version != 3 || !vi.NoPreempt {
		t.Errorf("scalars wrong: %+v", vi)
	}
	if vi.AdvertInt.Duration().Milliseconds() != 500 {
		t.Errorf("advert_int = %v, want 0.5s", vi.AdvertInt)
	}
	if vi.Authentication == nil || vi.Authentication.AuthType != "PASS" || vi.Authentication.AuthPass != "secret" {
		t.Errorf("authentication = %+v", vi.Authentication)
	}
	if vi.McastSrcIP != "192.0.2.1" || len(vi.UnicastPeers) != 2 || vi.UnicastPeers[0].MinTTL != 250 {
		t.Errorf("unicast = %q %+v", vi.McastSrcIP, vi.UnicastPeers)
	}
	wantVIP := netip.MustParsePrefix("192.0.2.100/24")
	if len(vi.VirtualIPAddresses) != 2 || vi.VirtualIPAddresses[0].Prefix != wantVIP || vi.VirtualIPAddresses[0].Label != "eth0:1" ||
		vi.VirtualIPAddresses[1].Prefix != netip.MustParsePrefix("2001:db8::1/128") {
		t.Errorf("VIPs = %+v", vi.VirtualIPAddresses)
	}
	if len(vi.TrackScript) != 1 || vi.TrackScript[0].Name != "chk_haproxy" || vi.TrackScript[0].Weight != -20 {
		t.Errorf("track_script = %+v", vi.TrackScript)
	}
	if vi.NotifyMaster.Cmd != "/usr/local/bin/notify master" || vi.NotifyMaster.User != "root" ||
		strings.Join(vi.NotifyMaster.Args, "|") != "/usr/local/bin/notify|master" {
		t.Errorf("notify_master = %+v", vi.NotifyMaster)
	}
	if p := vi.PosOf("priority"); p.Line != 6 || p.File != "test.conf" {
		t.Errorf("priority position = %v, want test.conf line 6", p)
	}
}

func TestParseVirtualServer(t *testing.T) {
	cfg, _ := parse(t, `
virtual_server_group web {
    10.0.0.1 80
    10.0.0.10-20 80
    fwmark 7
}
virtual_server 10.0.0.1 80 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP
    sorry_server 10.0.0.9 80
    real_server 10.0.1.1 80 {
        weight 2
        HTTP_GET {
            url {
                path /health
                status_code 200-299
            }
            connect_timeout 3
        }
        TCP_CHECK {
            connect_port 8080
        }
    }
}`)
	if len(cfg.VirtualServerGroups) != 1 || len(cfg.VirtualServerGroups[0].Entries) != 3 || cfg.VirtualServerGroups[0].Entries[2].Fwmark != 7 {
		t.Fatalf("virtual_server_group = %+v", cfg.VirtualServerGroups)
	}
	vs := cfg.VirtualServers[0]
	if strings.Join(vs.Args, " ") != "10.0.0.1 80" || vs.LBAlgo != "rr" || vs.LBKind != "NAT" || vs.DelayLoop.Duration().Seconds() != 6 {
		t.Errorf("virtual_server = %+v", vs)
	}
	rs := vs.RealServers[0]
	if rs.Weight != 2 || len(rs.Checkers) != 2 || rs.Checkers[0].Keyword != "HTTP_GET" || rs.Checkers[1].Keyword != "TCP_CHECK" {
		t.Fatalf("real_server = %+v", rs)
	}
	if u := rs.Checkers[0].URLs; len(u) != 1 || u[0].Path != "/health" || u[0].StatusCode[0] != "200-299" {
		t.Errorf("url = %+v", u)
	}
	if rs.Checkers[1].ConnectPort != 8080 {
		t.Errorf("connect_port = %d", rs.Checkers[1].ConnectPort)
	}
}

func TestUnknownKeywordSuggestsTheKeyword(t *testing.T) {
	_, diags := load(t, "vrrp_instance VI_1 {\n    interface eth0\n    priorty 100\n}\n")
	var hint *Diagnostic
	for i := range diags {
		if diags[i].Extra && diags[i].Line == 3 {
			hint = &diags[i]
		}
	}
	if hint == nil || !strings.Contains(hint.Hint, "priority") {
		t.Fatalf("no 'did you mean priority' hint on line 3 in %v", diags)
	}
}

func TestMisplacedBraceIsPointedAt(t *testing.T) {
	_, diags := load(t, "vrrp_instance VI_1 {\n    interface eth0\n    }\n    priority 100\n}\n")
	for _, d := range diags {
		if d.Extra && d.Line == 4 && strings.Contains(d.Hint, "vrrp_instance") && strings.Contains(d.Hint, "line 3") {
			return
		}
	}
	t.Fatalf("no hint that the '}' on line 3 closed vrrp_instance early: %v", diags)
}

func TestMissingParameterExits2(t *testing.T) {
	_, diags := load(t, "vrrp_instance VI_1 {\n    priority\n}\n")
	if diags.ExitCode() != ExitMissingParam {
		t.Fatalf("exit = %d, want 2: %v", diags.ExitCode(), diags)
	}
}

func TestDumpRoundTrips(t *testing.T) {
	text := `global_defs {
    router_id lb1
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 7
    priority 90
    virtual_ipaddress {
        192.0.2.7/32 dev eth0
    }
}
`
	cfg, _ := load(t, text)
	var b bytes.Buffer
	cfg.Format(&b)
	again, _ := LoadBytes("dump.conf", b.Bytes(), testOpts)
	var b2 bytes.Buffer
	again.Format(&b2)
	if b.String() != b2.String() {
		t.Fatalf("dump does not round-trip:\n%s\n---\n%s", b.String(), b2.String())
	}
	if !strings.Contains(b.String(), "priority 90") || !strings.Contains(b.String(), "192.0.2.7/32 dev eth0") {
		t.Fatalf("dump lacks keywords:\n%s", b.String())
	}
}

// generatedConfig builds a configuration with n vrrp_instances and n
// virtual_servers of rs real servers each, for the parse benchmark.
func generatedConfig(n, rs int) []byte {
	var b bytes.Buffer
	b.WriteString("global_defs {\n    router_id bench\n}\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `vrrp_instance VI_%d {
    state BACKUP
    interface eth%d
    virtual_router_id %d
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass pw%d
    }
    virtual_ipaddress {
        10.%d.%d.1/32 dev eth0
    }
}
`, i, i/255, i%255+1, i, i/256, i%256)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "virtual_server 10.%d.%d.1 80 {\n    delay_loop 6\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", i/256, i%256)
		for j := 0; j < rs; j++ {
			fmt.Fprintf(&b, "    real_server 172.16.%d.%d 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n", i%256, j+1)
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// BenchmarkParseLarge parses 1,000 vrrp_instances and 1,000 virtual_servers
// of 10 real_servers each (the benchmark).
func BenchmarkParseLarge(b *testing.B) {
	data := generatedConfig(1000, 10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		cfg, _ := LoadBytes("bench.conf", data, testOpts)
		if len(cfg.Instances) != 1000 || len(cfg.VirtualServers) != 1000 {
			b.Fatalf("parsed %d instances, %d virtual servers", len(cfg.Instances), len(cfg.VirtualServers))
		}
	}
}

// TestDumpSkipsDroppedBlocks checks that -d does not fail on a block that
// validation dropped after reading it: vrrp_strict sets an instance's
// authentication to nil, its keyword still written. Every sample and
// oracle case is dumped after validation too, as -t -d does.
func TestDumpSkipsDroppedBlocks(t *testing.T) {
	cfg, _ := load(t, `global_defs {
    vrrp_strict
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 7
    priority 90
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.0.2.7/32
    }
}
`)
	if vi := cfg.Instances[0]; vi.Authentication != nil || !vi.IsSet("authentication") {
		t.Fatalf("expected validation to drop the authentication block and keep its keyword: %+v", vi.Authentication)
	}
	var b bytes.Buffer
	cfg.Format(&b)
	if strings.Contains(b.String(), "authentication") || !strings.Contains(b.String(), "priority 90") {
		t.Fatalf("dump:\n%s", b.String())
	}

	samples, _ := filepath.Glob("testdata/samples/*")
	oracle, _ := filepath.Glob("testdata/oracle/*.conf")
	for _, file := range append(samples, oracle...) {
		cfg, _ := Load(file, testOpts)
		var b bytes.Buffer
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: the dump panics: %v", file, r)
				}
			}()
			cfg.Format(&b)
		}()
	}
}

// TestBooleanWordsAsKeepalived: a keyword whose keepalived handler reads
// its value with check_true_false refuses any other word (case matters)
// and is then as if not written, so that "smtp_alert maybe" leaves a real
// server's alerts at their default and a virtual server's off; a keyword
// whose handler reads no value is set whatever follows it
// ("nopreempt off" sets nopreempt), with a hint.
func TestBooleanWordsAsKeepalived(t *testing.T) {
	cfg, diags := parse(t, `
global_defs {
    smtp_alert yes
    smtp_alert maybe
    checker_log_all_failures Yes
    no_checker_emails off
}
vrrp_instance VI_1 {
    nopreempt off
    smtp_alert maybe
}
virtual_server 10.0.0.1 80 {
    smtp_alert maybe
    omega no
    real_server 10.0.0.2 80 {
        smtp_alert maybe
        TCP_CHECK {
            log_all_failures maybe
        }
    }
}
`)
	g := cfg.GlobalDefs
	if !g.IsSet("smtp_alert") || !g.SMTPAlert {
		t.Error("global smtp_alert yes then maybe: want the yes kept")
	}
	if g.IsSet("checker_log_all_failures") || g.CheckerLogAllFailures {
		t.Error("checker_log_all_failures Yes: keepalived refuses the capital; want it unset")
	}
	if !g.IsSet("no_checker_emails") || g.NoCheckerEmails {
		t.Error("no_checker_emails off: want set, false")
	}
	vi := cfg.Instances[0]
	if !vi.NoPreempt {
		t.Error("nopreempt off: keepalived's handler reads no value, want nopreempt set")
	}
	if vi.IsSet("smtp_alert") || vi.SMTPAlert {
		t.Error("vrrp_instance smtp_alert maybe: want unset")
	}
	vs := cfg.VirtualServers[0]
	if vs.IsSet("smtp_alert") || vs.SMTPAlert || !vs.Omega {
		t.Errorf("virtual_server: smtp_alert set %v value %v, omega %v; want unset, false, true", vs.IsSet("smtp_alert"), vs.SMTPAlert, vs.Omega)
	}
	rs := vs.RealServers[0]
	if rs.IsSet("smtp_alert") || rs.SMTPAlert || rs.Checkers[0].LogAllFailures || rs.Checkers[0].IsSet("log_all_failures") {
		t.Error("real_server smtp_alert maybe / log_all_failures maybe: want both unset")
	}
	var errs, hints []int
	for _, d := range diags {
		if d.Extra {
			hints = append(hints, d.Line)
		} else if d.Severity == Error {
			errs = append(errs, d.Line)
		}
	}
	if fmt.Sprint(errs) != "[4 5 10 13 16 18]" || fmt.Sprint(hints) != "[9 14]" {
		t.Errorf("errors at %v, hints at %v; want errors at [4 5 10 13 16 18], hints at [9 14]\n%v", errs, hints, diags)
	}
}
