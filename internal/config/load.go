package config

import (
	"net"
	"os"
	"os/user"
	"reflect"
	"strings"
)

// Options are the inputs of a configuration read that do not come from the
// file: the command line and the machine. Tests inject the machine parts.
type Options struct {
	ConfigID string // -i; "" means the host name up to its first dot
	Instance string // ${_INSTANCE}

	// InterfaceExists reports whether a network interface exists; nil
	// looks at the machine.
	InterfaceExists func(name string) bool
	// LoopbackInterface reports whether an existing interface is a
	// loopback one (which a vrrp_instance cannot use); nil looks at the
	// machine.
	LoopbackInterface func(name string) bool
	// UserExists reports whether a user exists; nil looks at the machine.
	UserExists func(name string) bool
	// Stat is os.Stat unless a test replaces it (script security).
	Stat func(path string) (os.FileInfo, error)
	// LookPath finds a bare command name in PATH; nil uses the real PATH.
	LookPath func(file string) (string, error)
	// KernelHas reports whether the running kernel has (or can load) a
	// link type: "ipvlan" or "vrf"; nil looks at the machine.
	KernelHas func(kind string) bool
}

func (o *Options) fill() {
	if o.ConfigID == "" {
		o.ConfigID = DefaultConfigID()
	}
	if o.InterfaceExists == nil || o.LoopbackInterface == nil {
		exists, loopback := machineInterfaces()
		if o.InterfaceExists == nil {
			o.InterfaceExists = exists
		}
		if o.LoopbackInterface == nil {
			o.LoopbackInterface = loopback
		}
	}
	if o.UserExists == nil {
		o.UserExists = func(name string) bool { _, err := user.Lookup(name); return err == nil }
	}
	if o.Stat == nil {
		o.Stat = os.Stat
	}
	if o.LookPath == nil {
		o.LookPath = lookPath
	}
	if o.KernelHas == nil {
		o.KernelHas = kernelHas
	}
}

// machineInterfaces lists the machine's interfaces once: a configuration
// with a thousand instances would otherwise ask the kernel a thousand times.
// The second function tells the loopback ones (keepalived looks at the link
// type, ARPHRD_LOOPBACK, which only loopback devices have, as they alone
// have IFF_LOOPBACK).
func machineInterfaces() (exists, loopback func(string) bool) {
	names := map[string]net.Flags{}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		names[i.Name] = i.Flags
	}
	exists = func(name string) bool { _, ok := names[name]; return ok }
	loopback = func(name string) bool { return names[name]&net.FlagLoopback != 0 }
	return exists, loopback
}

// DefaultConfigID is keepalived's default -i: the host name up to its first dot.
func DefaultConfigID() string {
	h, _ := os.Hostname()
	id, _, _ := strings.Cut(h, ".")
	return id
}

// Load reads, parses and validates the configuration at path (a glob is
// allowed, as with keepalived -f). It always returns a model, possibly
// partial; the diagnostics say what was wrong and ExitCode() what `-t`
// exits with.
func Load(path string, opts Options) (*Config, Diagnostics) {
	opts.fill()
	return loadFrom(openLexer(path, LexOptions{ConfigID: opts.ConfigID, Instance: opts.Instance}), &opts)
}

// LoadBytes is Load on in-memory text; includes resolve relative to name.
func LoadBytes(name string, data []byte, opts Options) (*Config, Diagnostics) {
	opts.fill()
	return loadFrom(bytesLexer(name, data, LexOptions{ConfigID: opts.ConfigID, Instance: opts.Instance}), &opts)
}

// loadFrom parses the lines of l as they are made, then validates. The
// findings are in the same order as Preprocess's, then Parse's, then
// validation's.
func loadFrom(l *lexer, opts *Options) (*Config, Diagnostics) {
	l.reuseTokens = true
	cfg, pdiags := parseLines(&parser{lex: l})
	for {
		if _, ok := l.next(); !ok {
			break
		}
	}
	diags := append(l.diags, pdiags...)
	diags = append(diags, validate(cfg, opts)...)
	return cfg, diags
}

// Parse builds the model from preprocessed lines, without validating it.
func Parse(lines []Line) (*Config, Diagnostics) {
	return parseLines(&parser{lines: lines})
}

func parseLines(p *parser) (*Config, Diagnostics) {
	cfg := &Config{}
	p.parseBlock(reflect.ValueOf(cfg), specOf(reflect.TypeOf(cfg).Elem()), false)
	cfg.stopped = p.stopped
	return cfg, p.diags
}
