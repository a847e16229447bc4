package track

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// Config is what a Tracker follows, and for whom.
type Config struct {
	Log     *slog.Logger
	Objects *Objects
	// Tracked are the instances' trackings; the Tracker delivers to them.
	Tracked []*Tracking
	// Verdicts are the scripts' verdicts to start from; the Tracker keeps
	// them up to date. Nil: as the scripts start (NewVerdicts).
	Verdicts *Verdicts
	// Reload: the Tracker replaces one that a reload stopped. init_file
	// then never overwrites an existing file.
	Reload bool
	// Sources are the real ones (the kernel's) unless a test sets them.
	Sources Sources
}

// Tracker follows interface states, script results, tracked files and
// tracked processes for the instances, on one goroutine that owns the
// state and delivers each change of fault or priority. It owns every
// goroutine it starts (that loop, the scripts' runners, the file watcher,
// the process monitor) and every subscription (interfaces, files,
// processes): Stop ends and waits for all of them.
//
// The interface subscription can end by itself when the kernel drops
// events (ENOBUFS under a burst of link changes); the Tracker then logs
// it, subscribes again and reads every interface's state again.
type Tracker struct {
	cfg Config
	src Sources
	log *slog.Logger

	done    chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
	stop    sync.Once
}

// linkRetry is how long the Tracker waits before trying to watch the
// interfaces again when it cannot.
const linkRetry = time.Second

// New makes a Tracker; it runs nothing until Start.
func New(cfg Config) *Tracker {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Verdicts == nil {
		cfg.Verdicts = NewVerdicts(cfg.Objects, nil)
	}
	return &Tracker{cfg: cfg, src: cfg.Sources.withDefaults(), log: cfg.Log}
}

// Start writes the init_file values, reads the tracked objects' states,
// delivers them, and follows them until Stop. It fails only when the
// interfaces cannot be watched; nothing then runs, and the instances get
// no FAULT state or tracking.
func (t *Tracker) Start() error {
	objs := t.cfg.Objects
	initFiles(t.log, objs.files, t.cfg.Reload)
	watch, err := t.src.Links.WatchLinks()
	if err != nil {
		return err
	}
	t.started = true
	t.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	l := newTrackLoop(t.log, t.src.Links, t.cfg.Tracked, t.cfg.Verdicts, objs)
	l.watch = watch
	l.listLinks()
	scripts, files, procs := usedObjects(t.cfg.Tracked, objs)
	fileValues, procStatuses := make(chan fileValue, 16), make(chan procStatus, 16)
	l.st.files = watchFiles(t.log, t.src.Files, files, fileValues, t.done, &t.wg)
	l.st.procs = map[string]bool{}
	if len(procs) > 0 {
		l.st.procs = startProcMonitor(t.log, t.src.Procs, procs, procStatuses, t.done, &t.wg)
	}
	for _, tr := range t.cfg.Tracked {
		for _, reason := range tr.faultReasons(l.st) {
			t.log.Info(reason)
		}
	}
	results := make(chan scriptResult, 16)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		l.run(results, fileValues, procStatuses, t.done)
	}()
	t.startScripts(ctx, scripts, results)
	return nil
}

// startScripts runs the vrrp_scripts that some instance tracks.
func (t *Tracker) startScripts(ctx context.Context, names []string, results chan<- scriptResult) {
	for _, name := range names {
		s := t.cfg.Objects.scripts[name]
		cred, err := scriptCredential(s, t.cfg.Objects.scriptUser)
		if err != nil {
			t.log.Error("VRRP_Script("+name+") cannot run: no such user", "err", err)
			continue
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			runScript(ctx, t.log, t.src.Run, s, cred, results)
		}()
	}
}

// Stop ends the tracking: it returns once every goroutine of the Tracker
// has ended (running scripts are ended as at a timeout) and every
// subscription is closed. No Instance method and no priority callback
// runs after it returns. It may be called more than once, and without
// Start.
func (t *Tracker) Stop() {
	t.stop.Do(func() {
		if !t.started {
			return
		}
		close(t.done)
		t.cancel()
		t.wg.Wait()
	})
}

// initFiles writes the init_file values of every track_file block, tracked
// or not, as keepalived does when it reads the configuration.
func initFiles(log *slog.Logger, specs map[string]*config.TrackFileSpec, reload bool) {
	for _, s := range specs {
		if problem := initTrackFile(s, reload); problem != "" {
			log.Error(problem)
		}
	}
}

// trackLoop is the Tracker's goroutine and the state it owns.
type trackLoop struct {
	log      *slog.Logger
	links    LinkSource
	watch    LinkWatch // nil while it cannot be made
	tracked  []*Tracking
	st       trackState
	health   map[string]*RiseFall
	verdicts *Verdicts
	listed   bool // every interface's state has been read
}

// newTrackLoop starts the scripts' verdicts from those carried over (at
// a reload) or from their init_fail setting.
func newTrackLoop(log *slog.Logger, links LinkSource, tracked []*Tracking, verdicts *Verdicts, objs *Objects) *trackLoop {
	l := &trackLoop{log: log, links: links, tracked: tracked, verdicts: verdicts, health: map[string]*RiseFall{},
		st: trackState{up: map[string]bool{}, good: map[string]bool{}}}
	initial := verdicts.Snapshot()
	for name, s := range objs.scripts {
		h := NewRiseFall(s.Rise, s.Fall, initial[name])
		l.health[name] = &h
		l.st.good[name] = h.Good()
	}
	return l
}

// listLinks reads every interface's state at once. The watch's first
// listing arrives piecemeal, and applying a part of it would put an
// instance whose interface is not listed yet in FAULT for a moment.
func (l *trackLoop) listLinks() {
	links, err := l.links.LinkStates()
	if err != nil {
		// Wait for the watch's listing instead (see link).
		l.log.Warn("cannot list interfaces; tracking starts once they are watched", "err", err)
		return
	}
	for _, s := range links {
		l.st.up[s.Name] = s.Up
	}
	l.listed = true
}

func (l *trackLoop) run(results <-chan scriptResult, files <-chan fileValue, procs <-chan procStatus, done <-chan struct{}) {
	defer func() {
		if l.watch != nil {
			l.watch.Close()
		}
	}()
	if l.listed {
		l.applyAll()
	}
	var retry <-chan time.Time
	for {
		var states <-chan kernel.LinkState
		if l.watch != nil {
			states = l.watch.Updates()
		}
		changed := false
		select {
		case s, ok := <-states:
			if ok {
				changed = l.link(s, len(states))
			} else {
				changed = l.watchEnded()
			}
		case <-retry:
			retry = nil
			changed = l.rewatch()
		case r := <-results:
			changed = l.script(r)
		case f := <-files:
			l.log.Info(fmt.Sprintf("Track file %s now has value %d", f.name, f.value))
			l.st.files[f.name], changed = f.value, true
		case p := <-procs:
			l.log.Info("Quorum " + map[bool]string{true: "gained", false: "lost"}[p.up] + " for tracked process " + p.name)
			l.st.procs[p.name], changed = p.up, true
		case <-done:
			return
		}
		if l.watch == nil && retry == nil {
			retry = time.After(linkRetry)
		}
		// Apply only once every interface's state is known, so that a
		// half-read list raises no false fault.
		if changed && l.listed {
			l.applyAll()
		}
	}
}

// link records an interface state; pending is how many more are queued.
func (l *trackLoop) link(s kernel.LinkState, pending int) bool {
	if was, seen := l.st.up[s.Name]; seen && was != s.Up {
		l.log.Info("interface "+s.Name+" is "+upDown(s.Up), "index", s.Index)
	}
	l.st.up[s.Name] = s.Up
	if pending == 0 {
		l.listed = true
	}
	return true
}

// watchEnded handles the end of the interface subscription, which the
// loop did not ask for: the kernel dropped events (ENOBUFS), so the
// interfaces are watched and read again. It reports whether their states
// were read.
func (l *trackLoop) watchEnded() bool {
	err := l.watch.Err()
	l.watch.Close()
	l.watch = nil
	l.log.Error("interface watch ended, changes may have been lost: watching and reading the interfaces again", "err", err)
	return l.rewatch()
}

// rewatch subscribes to the interfaces again, then reads all their states
// and takes them as they are; it reports whether it could read them.
func (l *trackLoop) rewatch() bool {
	w, err := l.links.WatchLinks()
	if err != nil {
		l.log.Error("cannot watch interfaces; trying again in "+linkRetry.String(), "err", err)
		return false
	}
	l.watch = w
	links, err := l.links.LinkStates()
	if err != nil {
		// The new watch's listing brings them.
		l.log.Warn("cannot list interfaces; their states come with the watch", "err", err)
		return false
	}
	now := make(map[string]bool, len(links))
	for _, s := range links {
		now[s.Name] = s.Up
		if was, seen := l.st.up[s.Name]; seen && was != s.Up {
			l.log.Info("interface "+s.Name+" is "+upDown(s.Up), "index", s.Index)
		}
	}
	for name, was := range l.st.up {
		if _, ok := now[name]; !ok && was {
			l.log.Info("interface " + name + " is down")
		}
	}
	l.st.up, l.listed = now, true
	l.log.Info("interfaces watched again")
	return true
}

// script records a vrrp_script run; it reports whether the verdict changed.
func (l *trackLoop) script(r scriptResult) bool {
	h := l.health[r.name]
	if h == nil || !h.Record(r.ok) {
		return false
	}
	l.st.good[r.name] = h.Good()
	l.verdicts.set(r.name, h.Good())
	l.log.Info("VRRP_Script(" + r.name + ") " + map[bool]string{true: "succeeded", false: "failed"}[h.Good()])
	return true
}

// applyAll delivers the state to every instance, logging priority
// changes as keepalived does. An instance in FAULT sends no adverts, and
// keepalived does not log what its priority does meanwhile (a track_file
// entering FAULT takes its weight back silently), so neither do we.
func (l *trackLoop) applyAll() {
	for _, t := range l.tracked {
		if t.shown == 0 {
			t.shown = t.Effective() // at a reload, the priority carried over
		}
		t.apply(l.st)
		if e := t.Effective(); !t.fault && e != t.shown {
			l.log.Info(fmt.Sprintf("(%s) Changing effective priority from %d to %d", t.name, t.shown, e))
			t.shown = e
			if t.onPriority != nil {
				t.onPriority(e)
			}
		}
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
