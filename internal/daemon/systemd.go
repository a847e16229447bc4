package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// systemd is the daemon's side of a Type=notify unit (sd_notify(3)):
// READY=1 once the configuration is applied, RELOADING=1 then READY=1
// around a reload, STOPPING=1 at stop, as keepalived's lib/systemd.c
// sends them, and WATCHDOG=1 while the VRRP loops answer (keepalived has
// no watchdog). keepalived notifies only when its parent is systemd;
// keepalived-go whenever NOTIFY_SOCKET is set, as sd_notify does, which
// lets a test own the socket. The variables are taken out of the
// environment at start so that scripts do not inherit them: systemd
// would log their messages as coming from a process other than the main one.
type systemd struct {
	log      *slog.Logger
	socket   string        // NOTIFY_SOCKET; "" when not under systemd
	watchdog time.Duration // WatchdogSec; 0 without a watchdog
}

// newSystemd reads and clears the notify variables.
func newSystemd(log *slog.Logger) *systemd {
	s := &systemd{log: log, socket: os.Getenv("NOTIFY_SOCKET")}
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	pid := os.Getenv("WATCHDOG_PID")
	if err == nil && usec > 0 && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
		s.watchdog = time.Duration(usec) * time.Microsecond
	}
	for _, v := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(v)
	}
	return s
}

// notify sends one state message; a failure is logged, never fatal.
func (s *systemd) notify(state string) {
	if s.socket == "" {
		return
	}
	if err := sendNotify(s.socket, state); err != nil {
		s.log.Warn("cannot notify systemd", "state", state, "err", err)
	}
}

func (s *systemd) ready() {
	s.notify(fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()))
}
func (s *systemd) reloading() { s.notify("RELOADING=1") }
func (s *systemd) stopping()  { s.notify("STOPPING=1") }

// sendNotify writes state to the notify socket: a path, or an abstract
// address when it starts with '@'.
func sendNotify(socket, state string) error {
	addr := &net.UnixAddr{Name: socket, Net: "unixgram"}
	if socket[0] == '@' {
		addr.Name = "\x00" + socket[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

// liveness is a subsystem whose loops can stall: VRRP's.
type liveness interface {
	Alive(ctx context.Context) error
}

// startWatchdog feeds systemd's watchdog every half interval, as
// sd_watchdog_enabled(3) advises, while every loop answers within that
// half: a VRRP loop that stalls (a deadlock, a timer's work that never
// ends) stops the feeding, and systemd restarts the daemon. It returns a
// stop that waits for the feeder.
func (s *systemd) startWatchdog(loops []liveness) (stop func()) {
	if s.socket == "" || s.watchdog <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.feed(ctx, loops, s.watchdog/2)
	}()
	return func() { cancel(); wg.Wait() }
}

func (s *systemd) feed(ctx context.Context, loops []liveness, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	stalled := false
	for {
		err := allAlive(ctx, loops, every)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			s.notify("WATCHDOG=1")
			if stalled {
				s.log.Info("the VRRP loops answer again: feeding systemd's watchdog")
			}
		case !stalled:
			s.log.Error("not feeding systemd's watchdog: " + err.Error())
		}
		stalled = err != nil
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// allAlive asks every loop, all within one bound.
func allAlive(ctx context.Context, loops []liveness, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var errs []error
	for _, l := range loops {
		if err := l.Alive(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
