package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/cli"
)

// Logging as keepalived's lib/logger.c does it: to syslog (ident
// "Keepalived", -S's facility, unless -G), to the console with -l, and
// with -g also to a file, whose lines start with keepalived's timestamp
// ("Sat Dec 05 19:00:00.123456789 2026: "). Each record is its message
// followed by its attributes as key=value; syslog gets it at the
// record's severity and adds its own time.

// newLogger builds the daemon's logger from the command line; what
// cannot be opened is said on stderr, and the rest logs on.
func newLogger(f *cli.Flags, stderr io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if f.Has("log-detail") {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	var handlers []slog.Handler
	if f.Has("log-console") {
		handlers = append(handlers, slog.NewTextHandler(stderr, hopts))
	}
	if !f.Has("no-syslog") && !(f.Has("log-console") && !f.Has("log-facility")) {
		// keepalived logs to syslog too with -l; keepalived-go did not
		// and its users' -l runs expect a console only: with -l, syslog
		// only when -S asks for a facility.
		facility, err := logFacility(f.Get("log-facility", "daemon"))
		if err != nil {
			fmt.Fprintln(stderr, err)
		}
		if w, err := syslog.New(facility|syslog.LOG_INFO, "Keepalived"); err == nil {
			handlers = append(handlers, newLineHandler(level, syslogSink(w)))
		} else if !f.Has("log-console") {
			handlers = append(handlers, slog.NewTextHandler(stderr, hopts)) // no syslog: the console
		}
	}
	if f.Has("log-file") {
		name := f.Get("log-file", "")
		if name == "" {
			name = "keepalived.log"
		}
		file, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			fmt.Fprintf(stderr, "cannot open the log file: %v\n", err)
		} else {
			handlers = append(handlers, newLineHandler(level, fileSink(file)))
		}
	}
	if len(handlers) == 0 { // -G without -l: the console, as before
		handlers = append(handlers, slog.NewTextHandler(stderr, hopts))
	}
	if len(handlers) == 1 {
		return slog.New(handlers[0])
	}
	return slog.New(fanout(handlers))
}

// logFacility is -S's value as keepalived reads it: a number 0-7 or
// local0-7 (LOG_LOCAL0-7), daemon or user; anything else is refused with
// keepalived's message and leaves daemon.
func logFacility(s string) (syslog.Priority, error) {
	n := strings.TrimPrefix(s, "local")
	if v, err := strconv.Atoi(n); err == nil && v >= 0 && v <= 7 && n != "" {
		return syslog.LOG_LOCAL0 + syslog.Priority(v)<<3, nil
	}
	switch s {
	case "daemon":
		return syslog.LOG_DAEMON, nil
	case "user":
		return syslog.LOG_USER, nil
	}
	//lint:ignore ST1005 keepalived's message, word for word
	return syslog.LOG_DAEMON, fmt.Errorf("Invalid log facility '%s'", s)
}

// sink takes one formatted record.
type sink func(level slog.Level, t time.Time, line string) error

func syslogSink(w *syslog.Writer) sink {
	return func(level slog.Level, _ time.Time, line string) error {
		switch {
		case level >= slog.LevelError:
			return w.Err(line)
		case level >= slog.LevelWarn:
			return w.Warning(line)
		case level >= slog.LevelInfo:
			return w.Info(line)
		}
		return w.Debug(line)
	}
}

// fileSink writes lib/logger.c's file lines: "%a %b %d %T.nnnnnnnnn %Y: msg".
func fileSink(w io.Writer) sink {
	return func(_ slog.Level, t time.Time, line string) error {
		_, err := fmt.Fprintf(w, "%s.%09d %s: %s\n", t.Format("Mon Jan 02 15:04:05"), t.Nanosecond(), t.Format("2006"), line)
		return err
	}
}

// lineHandler formats a record as its message and key=value attributes
// (slog's text form without time and level) and gives it to a sink.
type lineHandler struct {
	level slog.Level
	sink  sink
	mu    *sync.Mutex
	buf   *bytes.Buffer
	text  slog.Handler // writes into buf
}

func newLineHandler(level slog.Level, s sink) *lineHandler {
	buf := &bytes.Buffer{}
	text := slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{} // the message goes first, as it is
		}
		return a
	}})
	return &lineHandler{level: level, sink: s, mu: &sync.Mutex{}, buf: buf, text: text}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	line := r.Message
	if attrs := strings.TrimSpace(h.buf.String()); attrs != "" {
		line += " " + attrs
	}
	return h.sink(r.Level, r.Time, line)
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.text = h.text.WithAttrs(attrs)
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.text = h.text.WithGroup(name)
	return &c
}

// fanout hands each record to every handler.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
