package checkd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MISC_CHECK with misc_dynamic: the script's exit status sets the real
// server's weight (status - 2), which reaches the pool and its quorum;
// exit 1 takes the server down at once (retry 0 by default), with
// keepalived's lines, notify scripts and FIFO lines; it comes back with
// the weight of its new status.
func TestMiscDynamicWeightsReachThePool(t *testing.T) {
	dir := t.TempDir()
	fifo := readFIFO(t, filepath.Join(dir, "fifo"))
	events, state := filepath.Join(dir, "events"), filepath.Join(dir, "state")
	setState := func(s string) {
		t.Helper()
		if err := os.WriteFile(state, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setState("0")
	conf := fmt.Sprintf(`global_defs {
    notify_fifo %s
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    quorum 4
    quorum_up "/bin/sh -c 'echo quorum_up >> %[2]s'"
    quorum_down "/bin/sh -c 'echo quorum_down >> %[2]s'"
    real_server 127.0.0.1 8080 {
        weight 1
        notify_up "/bin/sh -c 'echo rs_up >> %[2]s'"
        notify_down "/bin/sh -c 'echo rs_down >> %[2]s'"
        MISC_CHECK {
            misc_path "/bin/sh -c 'exit $(cat %[3]s)'"
            misc_dynamic
            misc_timeout 5
            warmup 0
        }
    }
    real_server 127.0.0.1 8081 {
        weight 3
    }
}
`, filepath.Join(dir, "fifo"), events, state)
	var logs syncBuffer
	s := startChecks(t, conf, &logs)
	rs, vs := "[127.0.0.1]:tcp:8080", "[192.0.2.1]:tcp:80"
	logHas := func(line string) func() bool { return func() bool { return strings.Contains(logs.String(), line) } }
	check := fmt.Sprintf("Misc check for [%s VS %s] by [/bin/sh] ", rs, vs)

	// The first run succeeds with status 0, which leaves the configured
	// weight: 1 + 3 meets the quorum of 4.
	waitFor(t, "the first run succeeds", logHas(check+"succeeded."))

	setState("2")
	waitFor(t, "weight 0", logHas("Changing weight from 1 to 0 for active service "+rs+" of VS "+vs))
	waitFor(t, "the quorum lost by the weight alone", logHas("Lost quorum 4-0=4 > 3 for VS "+vs))
	waitFor(t, "VS DOWN on the FIFO", func() bool { return fifo.has("VS " + vs + " DOWN\n\x00") })

	setState("12")
	waitFor(t, "weight 10", logHas("Changing weight from 0 to 10 for active service "+rs+" of VS "+vs))
	waitFor(t, "the quorum gained", logHas("Gained quorum 4+0=4 <= 13 for VS "+vs))
	waitFor(t, "VS UP on the FIFO", func() bool { return fifo.has("VS " + vs + " UP\n\x00") })

	setState("1")
	waitFor(t, "the failure", logHas(check+"failed with retry disabled (exited with status 1)."))
	waitFor(t, "RS DOWN on the FIFO", func() bool { return fifo.has("RS " + rs + " " + vs + " DOWN\n\x00") })
	waitFor(t, "the quorum lost again", func() bool { return strings.Count(logs.String(), "Lost quorum 4-0=4 > 3 for VS "+vs) == 2 })

	setState("7")
	waitFor(t, "weight 5 while out of the pool", logHas("Changing weight from 1 to 5 for inactive service "+rs+" of VS "+vs))
	waitFor(t, "RS UP on the FIFO", func() bool { return fifo.has("RS " + rs + " " + vs + " UP\n\x00") })
	waitFor(t, "the quorum gained at weight 5", logHas("Gained quorum 4+0=4 <= 8 for VS "+vs))
	waitFor(t, "the scripts ran in order", fileHas(events, "quorum_down\nquorum_up\nrs_down\nquorum_down\nrs_up\nquorum_up\n"))
	s.Stop(context.Background())
	l := logs.String()
	if i, k := strings.Index(l, "Changing weight from 1 to 5"), strings.Index(l, "Adding service "+rs); i < 0 || k < i {
		t.Errorf("the weight must change before the server is added back:\n%s", l)
	}
}

// FILE_CHECK: the file's value times the weight adjusts the weight (and
// the quorum); with weight 0 any non-zero value takes the server down; a
// value whose product reaches keepalived's fault level takes a weighted
// one down.
func TestFileCheckValuesAndWeights(t *testing.T) {
	dir := t.TempDir()
	events, path := filepath.Join(dir, "events"), filepath.Join(dir, "value")
	setValue := func(s string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`track_file tf {
    file %s
    weight 2
    init_file 0
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    quorum 3
    quorum_up "/bin/sh -c 'echo quorum_up >> %[2]s'"
    quorum_down "/bin/sh -c 'echo quorum_down >> %[2]s'"
    real_server 127.0.0.1 8080 {
        weight 1
        notify_down "/bin/sh -c 'echo down 8080 >> %[2]s'"
        FILE_CHECK {
            track_file tf
        }
    }
    real_server 127.0.0.1 8081 {
        weight 2
        notify_up "/bin/sh -c 'echo up 8081 >> %[2]s'"
        notify_down "/bin/sh -c 'echo down 8081 >> %[2]s'"
        FILE_CHECK {
            track_file tf
            weight 0
        }
    }
}
`, path, events)
	var logs syncBuffer
	startChecks(t, conf, &logs)
	if b, err := os.ReadFile(path); err != nil || string(b) != "0\n" {
		t.Fatalf("init_file: %q %v", b, err)
	}
	rs1, rs2, vs := "[127.0.0.1]:tcp:8080", "[127.0.0.1]:tcp:8081", "[192.0.2.1]:tcp:80"
	logHas := func(line string) func() bool { return func() bool { return strings.Contains(logs.String(), line) } }

	setValue("3")
	waitFor(t, "value 3 x weight 2 added", logHas("Changing weight from 1 to 7 for active service "+rs1+" of VS "+vs))
	waitFor(t, "weight 0: a non-zero value is down", fileHas(events, "down 8081\n"))

	setValue("-1")
	waitFor(t, "value -1 x weight 2 takes the weight to 0", logHas("Changing weight from 7 to 0 for active service "+rs1+" of VS "+vs))
	waitFor(t, "the quorum lost", fileHas(events, "down 8081\nquorum_down\n"))

	setValue("0")
	waitFor(t, "back to the configured weight", logHas("Changing weight from 0 to 1 for active service "+rs1+" of VS "+vs))
	waitFor(t, "weight 0: value 0 is up; the quorum is back", fileHas(events, "down 8081\nquorum_down\nup 8081\nquorum_up\n"))

	setValue("-2147483648")
	waitFor(t, "the fault level takes the weighted server down", fileHas(events, "down 8081\nquorum_down\nup 8081\nquorum_up\ndown 8080\nquorum_down\ndown 8081\n"))
	if !strings.Contains(logs.String(), "Removing service "+rs1+" from VS "+vs) || !strings.Contains(logs.String(), "Removing service "+rs2+" from VS "+vs) {
		t.Errorf("log:\n%s", logs.String())
	}
}

// MISC_CHECK's retries with log_all_failures: each failure is logged with
// keepalived's retry wording, and a script that outlasts misc_timeout is
// "timed out".
func TestMiscRetriesAndTimeoutLines(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.WriteFile(state, []byte("0"), 0o644)
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 8080 {
        MISC_CHECK {
            misc_path "/bin/sh -c 's=$(cat %s); [ $s = slow ] && exec sleep 10; exit $s'"
            misc_timeout 1
            retry 1
            delay_before_retry 0.2
            log_all_failures
            warmup 0
        }
    }
}
`, state)
	var logs syncBuffer
	startChecks(t, conf, &logs)
	check := "Misc check for [[127.0.0.1]:tcp:8080 VS [192.0.2.1]:tcp:80] by [/bin/sh] "
	logHas := func(line string) func() bool { return func() bool { return strings.Contains(logs.String(), line) } }
	waitFor(t, "the first success", logHas(check+"succeeded."))
	os.WriteFile(state, []byte("3"), 0o644)
	waitFor(t, "the first failure", logHas(check+"failed, will do 1 retry (exited with status 3)."))
	waitFor(t, "the last failure", logHas(check+"failed after 1 retry (exited with status 3)."))
	os.WriteFile(state, []byte("0"), 0o644)
	waitFor(t, "the success", func() bool { return strings.Count(logs.String(), check+"succeeded.") == 2 })
	os.WriteFile(state, []byte("slow"), 0o644)
	waitFor(t, "the first timeout", logHas(check+"timed out, will do 1 retry."))
	waitFor(t, "the last timeout", logHas(check+"timed out after 1 retry."))
	waitFor(t, "the server removed again", func() bool {
		return strings.Count(logs.String(), "Removing service [127.0.0.1]:tcp:8080 from VS [192.0.2.1]:tcp:80") == 2
	})
}
