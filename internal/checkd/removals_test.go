package checkd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/notify/smtptest"
)

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// removalConf is a virtual server (with its own words, e.g. omega) whose
// real servers, at the given ports of 127.0.0.1, log their notify_down
// and the virtual server its quorum_down to events.
func removalConf(vip, words, events string, ports ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_server %s 80 {\n    protocol TCP\n    delay_loop 0.2\n    smtp_alert\n%s", vip, words)
	fmt.Fprintf(&b, "    quorum_down \"/bin/sh -c 'echo quorum_down %s >> %s'\"\n", vip, events)
	for _, p := range ports {
		fmt.Fprintf(&b, `    real_server 127.0.0.1 %[1]s {
        notify_down "/bin/sh -c 'echo down %[1]s >> %[2]s'"
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
`, p, events)
	}
	return b.String() + "}\n"
}

// At stop, with omega, keepalived's clear_services notifies each alive
// real server down (notify_down, "RS ... DOWN", the alert "=> Shutting
// down <=") and then its virtual server (quorum_down, "VS ... DOWN", the
// alert); without omega nothing is notified, and with -I (the kernel's
// services kept) not even with it.
func TestOmegaShutdownNotifies(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep bool
	}{{"stop", false}, {"-I", true}} {
		t.Run(tc.name, func(t *testing.T) {
			sink := smtptest.New(t)
			a, b := newTCPServer(t), newTCPServer(t)
			dir := t.TempDir()
			fifo := readFIFO(t, filepath.Join(dir, "fifo"))
			events := filepath.Join(dir, "events")
			conf := mailGlobals(sink, "    notify_fifo "+filepath.Join(dir, "fifo")+"\n") +
				removalConf("192.0.2.1", "    omega\n", events, portOf(a.addr)) +
				removalConf("192.0.2.2", "", events, portOf(b.addr))
			var logs syncBuffer
			fb := &lvs.FakeBackend{}
			s := startWithBackend(t, conf, &logs, WithBackend(fb, tc.keep))
			time.Sleep(300 * time.Millisecond)
			if err := s.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			rsA, vsA := "[127.0.0.1]:tcp:"+portOf(a.addr), "[192.0.2.1]:tcp:80"
			got, _ := os.ReadFile(events)
			if tc.keep {
				if len(got) != 0 || len(sink.Alerts()) != 0 || fifo.has("VS "+vsA+" DOWN\n\x00") {
					t.Errorf("with -I: events %q, alerts %q: want none", got, sink.Alerts())
				}
				return
			}
			if string(got) != "down "+portOf(a.addr)+"\nquorum_down 192.0.2.1\n" {
				t.Errorf("scripts at stop: %q, want the omega virtual server's only", got)
			}
			waitFor(t, "the FIFO lines", func() bool {
				return fifo.has("RS "+rsA+" "+vsA+" DOWN\n\x00") && fifo.has("VS "+vsA+" DOWN\n\x00")
			})
			if fifo.has("VS [192.0.2.2]:tcp:80 DOWN\n\x00") {
				t.Error("a virtual server without omega is notified at stop")
			}
			want := []string{
				"[lb1] Realserver " + rsA + " of virtual server " + vsA + " - DOWN | => Shutting down <=",
				"[lb1] Virtualserver " + vsA + " - DOWN | => Shutting down <=",
			}
			waitFor(t, "the alerts", func() bool { return len(sink.Alerts()) >= 2 })
			if got := sink.Alerts(); !slices.Equal(got, want) {
				t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if !strings.Contains(logs.String(), "Shutting down service "+rsA+" from VS "+vsA) {
				t.Errorf("no shutdown line:\n%s", logs.String())
			}
		})
	}
}

// A reload that removes a real server, and one that removes a virtual
// server, notifies as keepalived's clear_diff_services does: the lines,
// notify_down, "RS ... DOWN", the alert "=> Removing <="; the removed
// virtual server loses its quorum (quorum_down, "VS ... DOWN", the "Lost
// quorum" alert).
func TestReloadRemovalNotifies(t *testing.T) {
	sink := smtptest.New(t)
	a, b, c := newTCPServer(t), newTCPServer(t), newTCPServer(t)
	dir := t.TempDir()
	fifo := readFIFO(t, filepath.Join(dir, "fifo"))
	events := filepath.Join(dir, "events")
	globals := mailGlobals(sink, "    notify_fifo "+filepath.Join(dir, "fifo")+"\n")
	var logs syncBuffer
	s := startChecks(t, globals+removalConf("192.0.2.1", "", events, portOf(a.addr), portOf(b.addr))+
		removalConf("192.0.2.2", "", events, portOf(c.addr)), &logs)
	time.Sleep(200 * time.Millisecond)
	cfg, _ := config.LoadBytes("t.conf", []byte(globals+removalConf("192.0.2.1", "", events, portOf(a.addr))), config.Options{})
	if err := s.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	rsB, rsC := "[127.0.0.1]:tcp:"+portOf(b.addr), "[127.0.0.1]:tcp:"+portOf(c.addr)
	vs1, vs2 := "[192.0.2.1]:tcp:80", "[192.0.2.2]:tcp:80"
	// Each virtual server's notifications run in order; two virtual
	// servers' run side by side.
	waitFor(t, "the scripts", func() bool {
		got, _ := os.ReadFile(events)
		return strings.Contains(string(got), "down "+portOf(b.addr)+"\n") &&
			inOrder(string(got), "down "+portOf(c.addr)+"\n", "quorum_down 192.0.2.2\n")
	})

	waitFor(t, "the FIFO lines", func() bool {
		return fifo.has("RS "+rsB+" "+vs1+" DOWN\n\x00") && fifo.has("RS "+rsC+" "+vs2+" DOWN\n\x00") && fifo.has("VS "+vs2+" DOWN\n\x00")
	})
	if got, _ := os.ReadFile(events); strings.Contains(string(got), "down "+portOf(a.addr)) || strings.Contains(string(got), "quorum_down 192.0.2.1") {
		t.Errorf("the kept server or virtual server is notified: %q", got)
	}
	want := []string{
		"[lb1] Realserver " + rsB + " of virtual server " + vs1 + " - DOWN | => Removing <=",
		"[lb1] Realserver " + rsC + " of virtual server " + vs2 + " - DOWN | => Removing <=",
		"[lb1] Virtualserver " + vs2 + " - DOWN | => Lost quorum 1+0=1 <= 0 <=",
	}
	waitFor(t, "the alerts", func() bool { return len(sink.Alerts()) >= 3 })
	if got := sink.Alerts(); !slices.Equal(got, want) {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !inOrder(logs.String(), "service "+rsB+" no longer exist", "Removing service "+rsB+" from VS "+vs1,
		"Removing Virtual Server "+vs2, "Removing service "+rsC+" from VS "+vs2) {
		t.Errorf("log:\n%s", logs.String())
	}
}

// SMTP_CHECK's failure alert carries its error; MISC_CHECK mails
// "succeeded", "failed" and "timed out" as it logs them, its first
// success included (check_misc.c sends it whether or not the server's
// state moves).
func TestSMTPAndMiscCheckAlerts(t *testing.T) {
	sink := smtptest.New(t)
	smtpd := newSMTPServer(t)
	state := filepath.Join(t.TempDir(), "state")
	os.WriteFile(state, []byte("0"), 0o644)
	var logs syncBuffer
	startChecks(t, mailGlobals(sink, "")+fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 %s {
        SMTP_CHECK {
            helo_name lb.test
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
    real_server 127.0.0.2 80 {
        MISC_CHECK {
            misc_path "/bin/sh -c 's=$(cat %s); [ $s = slow ] && exec sleep 10; exit $s'"
            misc_timeout 1
            retry 0
            warmup 0
        }
    }
}
`, smtpd.port(), state), &logs)
	rsS, rsM, vs := "[127.0.0.1]:tcp:"+smtpd.port(), "[127.0.0.2]:tcp:80", "[192.0.2.1]:tcp:80"
	subject := func(rs, state string) string {
		return "[lb1] Realserver " + rs + " of virtual server " + vs + " - " + state + " | "
	}
	waitFor(t, "the first misc success", func() bool { return len(sink.Alerts()) >= 1 })
	smtpd.stop()
	waitFor(t, "the SMTP_CHECK failure", func() bool { return strings.Contains(logs.String(), "SMTP_CHECK ") })
	os.WriteFile(state, []byte("3"), 0o644)
	waitFor(t, "the misc failure", func() bool { return strings.Contains(logs.String(), "failed with retry disabled") })
	os.WriteFile(state, []byte("0"), 0o644)
	waitFor(t, "the misc success", func() bool {
		return strings.Count(logs.String(), "by [/bin/sh] succeeded.") == 2
	})
	os.WriteFile(state, []byte("slow"), 0o644)
	waitFor(t, "the misc timeout", func() bool { return strings.Contains(logs.String(), "timed out with retry disabled") })
	waitFor(t, "five alerts", func() bool { return len(sink.Alerts()) >= 5 })
	var smtpAlerts, miscAlerts []string
	for _, a := range sink.Alerts() {
		if strings.Contains(a, rsS) {
			smtpAlerts = append(smtpAlerts, a)
		} else {
			miscAlerts = append(miscAlerts, a)
		}
	}
	wantMisc := []string{
		subject(rsM, "UP") + "=> MISC CHECK succeeded on service <=",
		subject(rsM, "DOWN") + "=> MISC CHECK failed on service <=",
		subject(rsM, "UP") + "=> MISC CHECK succeeded on service <=",
		subject(rsM, "DOWN") + "=> MISC CHECK timed out on service <=",
	}
	if !slices.Equal(miscAlerts, wantMisc) {
		t.Errorf("MISC_CHECK's alerts:\n%s\nwant:\n%s", strings.Join(miscAlerts, "\n"), strings.Join(wantMisc, "\n"))
	}
	i := strings.Index(logs.String(), "SMTP_CHECK ")
	reason := logs.String()[i+len("SMTP_CHECK "):]
	reason = reason[:strings.IndexByte(reason, '"')]
	if want := subject(rsS, "DOWN") + "=> CHECK failed on service : " + reason + " <="; len(smtpAlerts) != 1 || smtpAlerts[0] != want {
		t.Errorf("SMTP_CHECK's alerts: %q, want [%q]", smtpAlerts, want)
	}
}

// A reload that keeps a virtual server group but changes its entries
// logs keepalived's lines for them (ipwrapper.c clear_diff_vsge,
// sync_service_vsg_entry), and nothing for the entries it keeps.
func TestReloadLogsGroupEntries(t *testing.T) {
	a := newTCPServer(t)
	group := func(entries string) string {
		return "virtual_server_group G {\n" + entries + "}\n" + fmt.Sprintf(`virtual_server group G {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`, portOf(a.addr))
	}
	var logs syncBuffer
	s := startChecks(t, group("    192.0.2.10 80\n    192.0.2.20-25 80\n    fwmark 7\n    192.0.2.30 80\n"), &logs)
	cfg, _ := config.LoadBytes("t.conf", []byte(group("    192.0.2.10 80\n    fwmark 8\n    192.0.2.40-41 80\n")), config.Options{})
	if err := s.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"VS [[192.0.2.20]:tcp:80-192.0.2.25] in group G no longer exists",
		"VS [7] in group G no longer exists",
		"VS [[192.0.2.30]:tcp:80] in group G no longer exists",
		"VS [FWM 8] added into group G",
		"VS [[192.0.2.40]:tcp:80-192.0.2.41] added into group G",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "192.0.2.10]:tcp:80] in group") || strings.Contains(logs.String(), "192.0.2.10]:tcp:80] added") {
		t.Errorf("a kept entry is logged:\n%s", logs.String())
	}
}
