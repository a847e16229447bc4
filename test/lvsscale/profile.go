package main

// The -qemu -profile mode: instead of the two daemons, the guest runs
// the syncer over the IPVS backend (no daemon, no configuration file)
// for the same services, cold start then a no-op sync, under a CPU
// profile, which it prints base64-encoded between markers on the
// console; the host writes it to a file and prints its top entries.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/ipvs"
)

const profBegin, profEnd = "=== PROFILE BEGIN", "=== PROFILE END"

// profileGuest runs inside the guest.
func profileGuest(n, m int) error {
	k, err := kernel.OpenIPVS()
	if err != nil {
		return err
	}
	// keepalived-go logs at info what keepalived logs; discarded here,
	// so that the profile is the syncer's and the backend's.
	s := lvs.NewSyncer(ipvs.New(k, slog.New(slog.DiscardHandler)), slog.New(slog.DiscardHandler))
	want := desired(n, m)
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return err
	}
	c0, t0 := cpuTime(), time.Now()
	err = s.Sync(context.Background(), clone(want))
	report("IPVS syncer, cold start of %d x %d: %.2f s, CPU %.2f s (%v)", n, m, time.Since(t0).Seconds(), (cpuTime() - c0).Seconds(), err)
	c0, t0 = cpuTime(), time.Now()
	err = s.Sync(context.Background(), clone(want))
	report("IPVS syncer, no-op sync: %.2f s, CPU %.2f s (%v)", time.Since(t0).Seconds(), (cpuTime() - c0).Seconds(), err)
	pprof.StopCPUProfile()
	printProfile(buf.Bytes())
	report("DONE")
	return nil
}

// coldStartAndStop starts a daemon, waits until its table is complete
// and stops it.
func coldStartAndStop(name string, args []string, p probes) error {
	logf, err := os.Create(p.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	done, reap, err := startReaped(cmd)
	if err != nil {
		return err
	}
	defer reap()
	if err := waitFor("cold start", p.complete); err != nil {
		return err
	}
	report("%s: cold start %.2f s; stopping it", name, time.Since(start).Seconds())
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(guestSettle):
		return fmt.Errorf("%s did not stop within %v", name, guestSettle)
	}
}

// printProfile prints a profile on the console, base64-encoded between
// the markers saveProfile looks for.
func printProfile(raw []byte) {
	fmt.Println(profBegin)
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 0 {
		l := min(len(enc), 76)
		fmt.Println(enc[:l])
		enc = enc[l:]
	}
	fmt.Println(profEnd)
}

// profileDaemonGuest runs inside the guest (-qemu -daemonprofile): the
// whole keepalived-go daemon, as runGuest starts it, on the same file,
// under the CPU profile its KEEPALIVED_GO_CPUPROFILE asks for. Cold start
// only: once the table is complete and the daemon's CPU time quiet, it
// is stopped with -I given (so that removing the table is not in the
// profile) and its profile printed. After the cold start, reloads no-op
// SIGHUPs (each until the CPU time is quiet) are in the profile too
// (under daemon.serveSignals). With trash, keepalived starts and
// stops first in the same namespace, as in runGuest's sameNetns.
func profileDaemonGuest(n, m int, trash bool, reloads int) error {
	if err := os.WriteFile(guestConf, []byte(guestConfText(n, m, false)), 0o644); err != nil {
		return err
	}
	report("guest: %d CPU(s); the configuration has %d virtual servers, %d real servers; keepalived-go under its CPU profile (after keepalived's start and stop: %t)", runtimeCPUs(), n, n*m, trash)
	if trash {
		ka := guestDaemons[0]
		if err := coldStartAndStop(ka.name, ka.args, ipvsProbes(n, m, func() string { return "keepalived" })); err != nil {
			return err
		}
	}
	exec.Command("ipvsadm", "-C").Run()
	const prof = "/tmp/keepalived-go.pprof"
	p := ipvsProbes(n, m, func() string { return "keepalived-go" })
	logf, err := os.Create(p.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(guestKG, "-n", "-l", "-C", "-I", "-f", guestConf, "-p", "/tmp/kg.pid", "-c", "/tmp/kg-checkers.pid", "--lvs-backend=ipvs")
	cmd.Env = append(os.Environ(), "KEEPALIVED_GO_CPUPROFILE="+prof)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	done, reap, err := startReaped(cmd)
	if err != nil {
		return err
	}
	defer reap()
	if err := waitFor("cold start", p.complete); err != nil {
		return err
	}
	cold := time.Since(start)
	_, cpu := quiet(func() float64 { return procCPU(cmd.Process.Pid) })
	report("keepalived-go (profiled): cold start %.2f s, CPU %.2f s", cold.Seconds(), cpu)
	for range reloads {
		c0, t0 := procCPU(cmd.Process.Pid), time.Now()
		cmd.Process.Signal(syscall.SIGHUP)
		at, c1 := quiet(func() float64 { return procCPU(cmd.Process.Pid) })
		report("keepalived-go (profiled): no-op reload %.2f s, CPU %.2f s", at.Sub(t0).Seconds(), c1-c0)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(guestSettle):
		return fmt.Errorf("did not stop within %v", guestSettle)
	}
	raw, err := os.ReadFile(prof)
	if err != nil {
		return err
	}
	printProfile(raw)
	report("DONE")
	return nil
}

// saveProfile extracts the profile from the console into path and
// prints its top entries (go tool pprof).
func saveProfile(console, path, bin string) error {
	_, rest, ok := strings.Cut(console, profBegin)
	body, _, ok2 := strings.Cut(rest, profEnd)
	if !ok || !ok2 {
		return fmt.Errorf("no profile on the console")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return err
	}
	out, _ := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount", "40", bin, path).CombinedOutput()
	fmt.Printf("profile written to %s (binary %s):\n%s", path, bin, out)
	return nil
}

// startReaped starts cmd and returns a channel closed when it has exited
// and what kills it if it still runs and waits for it.
func startReaped(cmd *exec.Cmd) (<-chan struct{}, func(), error) {
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	return done, func() {
		cmd.Process.Kill()
		<-done
	}, nil
}
