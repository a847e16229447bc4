package config

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func lvsLoad(t *testing.T, text string) (*Config, Diagnostics) {
	t.Helper()
	return LoadBytes("lvs.conf", []byte(text), Options{ConfigID: "testhost",
		InterfaceExists: oracleInterfaceExists, UserExists: oracleUserExists})
}

func citedLines(ds Diagnostics) []int {
	var got []int
	for _, d := range ds {
		if !d.Extra && d.Line > 0 && !slices.Contains(got, d.Line) {
			got = append(got, d.Line)
		}
	}
	sort.Ints(got)
	return got
}

// The expected lines are what keepalived 2.2.7 -t cited for the same text.
func TestLVSAsKeepalived(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		lines []int
		exit  int
	}{{
		name: "checker keywords in the wrong checker",
		text: `virtual_server 10.1.1.1 80 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.1.2.1 80 {
        weight 1
        TCP_CHECK {
            misc_path /bin/true
            connect_port 80
        }
        HTTP_GET {
            sni_name foo
            url {
              path /
              tls_compliant
            }
        }
        FILE_CHECK {
            track_file tf
            alpha
        }
    }
}
track_file tf {
   file /tmp/x
}
`,
		lines: []int{9, 13, 16, 20, 21, 22},
		exit:  5,
	}, {
		name: "values and end checks",
		text: `virtual_server 10.1.1.1 80 {
    real_server 10.1.2.1 80 {
        UDP_CHECK {
            payload ff
        }
        UDP_CHECK {
            payload 0a ff 1
        }
        UDP_CHECK {
            payload 0a f f1
            require_reply 0x
            min_reply_length 70000
        }
        HTTP_GET {
            nb_get_retry 3
            url {
              path /
              digest 0123456789abcdef0123456789abcdeg
              status_code 200-299 300-250 abc 99 404
            }
        }
        DNS_CHECK {
            type aaaa
            name a..b
        }
        BFD_CHECK {
        }
        connect_timeout 0
        delay_loop 0
        retry 0
        weight 2147483648
    }
    sorry_server 10.1.1.400 80
    quorum 5
    hysteresis 7
    persistence_timeout
    weight 0
    ops
    sh-port
}
virtual_server fwmark 5 {
    real_server 10.1.2.1 80 {
       lvs_method TUN
    }
}
virtual_server 10.1.1.1 abc {
}
`,
		// Line 4, "payload ff": keepalived 2.2.7 cites it (a last
		// octet ff is its error marker); 2.3.3 and keepalived-go read it.
		lines: []int{12, 15, 18, 19, 24, 27, 28, 29, 30, 31, 33, 37, 39, 46},
		exit:  5,
	}, {
		name: "mixed families",
		text: `virtual_server 10.1.1.1 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server fd00::1 80 {
    }
    real_server 10.1.2.1 80 {
    }
}
`,
		lines: []int{6},
		exit:  5,
	}, {
		name: "FILE_CHECK weight option",
		text: `track_file tf {
    file /tmp/x
}
virtual_server 10.1.1.1 80 {
    protocol TCP
    real_server 10.1.2.1 80 {
        FILE_CHECK {
            track_file tf
            weight 3 bogus
        }
        FILE_CHECK {
            track_file tf
            weight -2 reverse
        }
    }
}
`,
		lines: []int{9},
		exit:  5,
	}, {
		// keepalived 2.2.7 -t: lines 6, 9, 12 and 15, exit 5.
		name: "tunnel options",
		text: `virtual_server 10.0.0.1 80 {
  lb_algo rr
  lb_kind TUN type gue port 6080 csum
  protocol TCP
  real_server 10.2.0.2 80 {
    lvs_method TUN type foo
  }
  real_server 10.2.0.3 80 {
    lvs_method TUN type ipip csum
  }
  real_server 10.2.0.4 80 {
    lvs_method TUN type gre remcsum
  }
  real_server 10.2.0.5 80 {
    lvs_method TUN type gue
  }
}
`,
		lines: []int{6, 9, 12, 15},
		exit:  5,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags := lvsLoad(t, c.text)
			if got := citedLines(diags); !slices.Equal(got, c.lines) || diags.ExitCode() != c.exit {
				t.Errorf("lines %v exit %d, want lines %v exit %d", got, diags.ExitCode(), c.lines, c.exit)
				for _, d := range diags {
					t.Log(d.String())
				}
			}
		})
	}
}

func TestLVSDefaults(t *testing.T) {
	cfg, diags := lvsLoad(t, `virtual_server 10.1.1.1 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    delay_before_retry 2
    real_server 10.1.2.1 80 {
        HTTP_GET {
            url {
                path /
            }
        }
        DNS_CHECK {
            name example.com
        }
    }
}
`)
	if diags.ExitCode() != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	vs := cfg.VirtualServers[0]
	rs := vs.RealServers[0]
	if vs.DelayLoop.Duration() != 60*time.Second || vs.ConnectTimeout.Duration() != 5*time.Second || rs.Weight != 1 || rs.LVSMethod != "DR" {
		t.Errorf("vs/rs defaults: delay_loop %s connect_timeout %s weight %d method %s", vs.DelayLoop, vs.ConnectTimeout, rs.Weight, rs.LVSMethod)
	}
	h, d := rs.Checkers[0], rs.Checkers[1]
	if h.Retry != 1 || h.DelayBeforeRetry.Duration() != 2*time.Second || h.ConnectTimeout.Duration() != 5*time.Second || h.URLs[0].StatusCode[0] != "200-299" {
		t.Errorf("HTTP_GET defaults: retry %d delay_before_retry %s connect_timeout %s status %v", h.Retry, h.DelayBeforeRetry, h.ConnectTimeout, h.URLs[0].StatusCode)
	}
	if d.Retry != 3 || d.DelayLoop.Duration() != 60*time.Second {
		t.Errorf("DNS_CHECK defaults: retry %d delay_loop %s", d.Retry, d.DelayLoop)
	}
}

// What keepalived loads into IPVS: flags, persistence, tunnels and
// thresholds, resolved as check_parser.c and ipvs_set_srule do.
func TestLVSResolvedIPVS(t *testing.T) {
	cfg, diags := lvsLoad(t, `virtual_server 10.1.1.1 80 {
    sh-port
    lb_algo sh
    sh-fallback
    mh-port
    flag-3
    lb_kind TUN type gue port 6080 csum
    persistence_granularity 255.255.255.0
    persistence_engine sip
    protocol UDP
    ops
    real_server 10.1.2.1 80 {
        uthreshold 100
        lthreshold 10
    }
    real_server 10.1.2.2 80 {
        lvs_method TUN type gre csum
    }
    real_server 10.1.2.3 80 {
        lvs_method NAT
    }
}
virtual_server fd00::1 80 {
    protocol TCP
    ops
    real_server fd00::2 80 {
    }
}
`)
	if got := citedLines(diags); !slices.Equal(got, []int{2}) {
		t.Fatalf("diagnostics (want sh-port before lb_algo only): %v", diags)
	}
	specs := cfg.VirtualServerSpecs()
	v4, v6 := specs[0], specs[1]
	if v4.Flags != 0x0004|0x0008|0x0020 || v4.PersistenceTimeout != 360 || v4.Granularity != 0xffffff00 || v4.PersistenceEngine != "sip" {
		t.Errorf("v4: flags %#x timeout %d granularity %#x engine %q", v4.Flags, v4.PersistenceTimeout, v4.Granularity, v4.PersistenceEngine)
	}
	want := []Tunnel{{Type: "gue", Port: 6080, Checksum: "csum"}, {Type: "gre", Checksum: "csum"}, {}}
	for i, rs := range v4.RealServers {
		if rs.Tunnel != want[i] {
			t.Errorf("real server %d: tunnel %+v, want %+v", i, rs.Tunnel, want[i])
		}
	}
	if rs := v4.RealServers[0]; rs.UThreshold != 100 || rs.LThreshold != 10 || rs.Method != "TUN" {
		t.Errorf("real server 0: thresholds %d/%d method %s", rs.UThreshold, rs.LThreshold, rs.Method)
	}
	if v6.Flags != 0 || v6.PersistenceTimeout != 0 || v6.Granularity != 128 {
		t.Errorf("v6: flags %#x (ops needs UDP) timeout %d granularity %d", v6.Flags, v6.PersistenceTimeout, v6.Granularity)
	}
}

func TestKaHex(t *testing.T) {
	// A last byte ff is read (2.2.7 refused it; fixed in 2.3.3).
	for s, want := range map[string]bool{"ff": true, "00ff": true, "01 FF": true, "0a ff 1": true, "0a f f1": true, "zz": false, "": false,
		"0A1b": true, "ff zz": false, "f": true, "0ag": false} {
		if got := kaHex(s, false); got != want {
			t.Errorf("kaHex(%q) = %v, want %v", s, got, want)
		}
	}
	if !kaHex("0x", true) || kaHex("0x", false) || !kaHex("0x ff", true) {
		t.Error("kaHex wildcard")
	}
}

// TestResolvedRealServersOutliveTheBuffer checks that the resolved real
// and sorry servers of each virtual server are its own, although
// validation checks the real servers of one virtual server after another
// in one reused buffer: a spec must not point into that buffer.
func TestResolvedRealServersOutliveTheBuffer(t *testing.T) {
	const nVS, nRS = 40, 5 // more real servers in all than the buffer's first size
	var b strings.Builder
	for i := range nVS {
		fmt.Fprintf(&b, "virtual_server 10.0.%d.1 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    sorry_server 10.2.%d.1 80\n", i, i)
		for j := range nRS {
			fmt.Fprintf(&b, "    real_server 10.1.%d.%d 80 {\n        weight %d\n    }\n", i, j+1, i*nRS+j)
		}
		b.WriteString("}\n")
	}
	cfg, diags := lvsLoad(t, b.String())
	for _, d := range diags {
		if !d.Extra {
			t.Fatalf("unexpected finding: %v", d)
		}
	}
	specs := cfg.VirtualServerSpecs()
	if len(specs) != nVS {
		t.Fatalf("%d virtual servers kept, want %d", len(specs), nVS)
	}
	for i, vs := range specs {
		if vs.VirtualServer != cfg.VirtualServers[i] || vs.Addr != netip.MustParseAddrPort(fmt.Sprintf("10.0.%d.1:80", i)) {
			t.Errorf("virtual server %d: %+v", i, *vs)
		}
		if vs.Sorry == nil || vs.Sorry.Addr != netip.MustParseAddrPort(fmt.Sprintf("10.2.%d.1:80", i)) {
			t.Errorf("virtual server %d: sorry server %+v", i, vs.Sorry)
		}
		if len(vs.RealServers) != nRS {
			t.Fatalf("virtual server %d: %d real servers, want %d", i, len(vs.RealServers), nRS)
		}
		for j, rs := range vs.RealServers {
			want := netip.MustParseAddrPort(fmt.Sprintf("10.1.%d.%d:80", i, j+1))
			if rs.Addr != want || rs.Weight != i*nRS+j || rs.RealServer != cfg.VirtualServers[i].RealServers[j] {
				t.Errorf("virtual server %d, real server %d: %v weight %d, want %v weight %d", i, j, rs.Addr, rs.Weight, want, i*nRS+j)
			}
		}
	}
}
