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
	fmt.Println(profBegin)
	enc := base64.StdEncoding.EncodeToString(buf.Bytes())
	for len(enc) > 0 {
		l := min(len(enc), 76)
		fmt.Println(enc[:l])
		enc = enc[l:]
	}
	fmt.Println(profEnd)
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
