// Package lab builds small networks of hosts out of Linux network
// namespaces: one bridge, and one namespace per host with an eth0 on the
// bridge. Tests, benchmarks and the demo run keepalived-go and keepalived
// in them. Nothing touches the root namespace's interfaces; Close removes
// everything.
package lab

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lab is a bridge and the hosts on it.
type Lab struct {
	prefix string
	bridge string // namespace holding the bridge
	Hosts  []*Host
	Dir    string // scratch directory for configs, pid files and logs
}

// Host is one namespace with an eth0 on the lab's bridge.
type Host struct {
	Name string
	NS   string
	IPv4 netip.Addr // 198.51.100.(10+i)/24
	IPv6 netip.Addr // 2001:db8::(10+i)/64
	lab  *Lab
}

// Subnet4 and Subnet6 are the lab's networks (documentation prefixes).
var (
	Subnet4 = netip.MustParsePrefix("198.51.100.0/24")
	Subnet6 = netip.MustParsePrefix("2001:db8::/64")
)

// New creates a lab with one host per name. prefix makes the namespace
// names unique (the caller adds its pid or test name); it must be short.
func New(prefix string, names ...string) (*Lab, error) {
	dir, err := os.MkdirTemp("", "kglab-")
	if err != nil {
		return nil, err
	}
	l := &Lab{prefix: prefix, bridge: prefix + "-br", Dir: dir}
	if err := l.build(names); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Lab) build(names []string) error {
	if err := run("ip", "netns", "add", l.bridge); err != nil {
		return err
	}
	if err := runAll([][]string{
		{"ip", "-n", l.bridge, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", l.bridge, "link", "set", "br0", "up"},
	}); err != nil {
		return err
	}
	for i, name := range names {
		h := &Host{Name: name, NS: fmt.Sprintf("%s-%d", l.prefix, i), lab: l,
			IPv4: netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}),
			IPv6: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(10 + i)})}
		if err := l.addHost(h, i); err != nil {
			return err
		}
		l.Hosts = append(l.Hosts, h)
	}
	return l.waitLinkLocal()
}

func (l *Lab) addHost(h *Host, i int) error {
	if err := run("ip", "netns", "add", h.NS); err != nil {
		return err
	}
	port := fmt.Sprintf("p%d", i)
	return runAll([][]string{
		{"ip", "link", "add", "eth0", "netns", h.NS, "type", "veth", "peer", "name", port, "netns", l.bridge},
		{"ip", "-n", l.bridge, "link", "set", port, "master", "br0", "up"},
		{"ip", "-n", h.NS, "link", "set", "lo", "up"},
		{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
		{"ip", "-n", h.NS, "addr", "add", h.IPv4.String() + "/24", "dev", "eth0"},
		{"ip", "-n", h.NS, "addr", "add", h.IPv6.String() + "/64", "dev", "eth0", "nodad"},
	})
}

// waitLinkLocal waits (at most 5 s) until every host's eth0 has a usable
// IPv6 link-local address, which IPv6 VRRP sends from.
func (l *Lab) waitLinkLocal() error {
	deadline := time.Now().Add(5 * time.Second)
	for _, h := range l.Hosts {
		for {
			out, _ := exec.Command("ip", "-n", h.NS, "-6", "addr", "show", "dev", "eth0", "scope", "link").Output()
			if bytes.Contains(out, []byte("fe80")) && !bytes.Contains(out, []byte("tentative")) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("lab: %s has no usable link-local address", h.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Close deletes the namespaces (which removes their links) and the
// scratch directory.
func (l *Lab) Close() error {
	for _, h := range l.Hosts {
		run("ip", "netns", "del", h.NS)
	}
	run("ip", "netns", "del", l.bridge)
	return os.RemoveAll(l.Dir)
}

// Host returns the host called name.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Command prepares a command to run inside the host's namespace.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// TmpDir is the host's TMPDIR, where daemons write their dump files.
func (h *Host) TmpDir() string { return filepath.Join(h.lab.Dir, h.Name+"-tmp") }

// HasAddress tells whether addr is configured on the host's eth0.
func (h *Host) HasAddress(addr netip.Addr) bool { return h.HasAddressOn("eth0", addr) }

// HasAddressOn tells whether interface dev of the host has addr.
func (h *Host) HasAddressOn(dev string, addr netip.Addr) bool {
	out, err := exec.Command("ip", "-n", h.NS, "-o", "addr", "show", "dev", dev).Output()
	return err == nil && bytes.Contains(out, []byte(" "+addr.String()+"/"))
}

// SetLink brings the host's eth0 up or down (a dead machine, a cable).
func (h *Host) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return run("ip", "-n", h.NS, "link", "set", "eth0", state)
}

// Ping sends one echo request to addr and reports whether it was answered
// within a second.
func (h *Host) Ping(addr netip.Addr) bool {
	return h.Command("ping", "-c", "1", "-W", "1", "-n", addr.String()).Run() == nil
}

// WriteFile writes a file into the lab's scratch directory and returns its path.
func (l *Lab) WriteFile(name, text string) (string, error) {
	path := filepath.Join(l.Dir, name)
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// Proc is a daemon running in a host.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	log  *SyncBuffer
	done chan struct{}
	err  error
}

// Start runs a long-lived command in the host, collecting its output.
func (h *Host) Start(name string, args ...string) (*Proc, error) {
	p := &Proc{Name: name, cmd: h.Command(name, args...), log: &SyncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	// Dump files (keepalived.data, keepalived.stats) go to the host's own
	// directory, as keepalived and keepalived-go honour TMPDIR.
	if err := os.MkdirAll(h.TmpDir(), 0o755); err != nil {
		return nil, err
	}
	p.cmd.Env = append(os.Environ(), "TMPDIR="+h.TmpDir())
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// StartKeepalivedGo runs keepalived-go (binary bin) in the foreground
// with the configuration text.
func (h *Host) StartKeepalivedGo(bin, conf string) (*Proc, error) {
	path, err := h.lab.WriteFile(h.Name+"-kg.conf", conf)
	if err != nil {
		return nil, err
	}
	return h.Start(bin, append([]string{"-n", "-l", "-D", "-f", path}, h.PidArgs("kg")...)...)
}

// PidArgs are the -p, -r and -c options that give a daemon of this host
// pid files of its own in the lab's directory: TAG-main.pid (the main
// one), TAG-vrrp.pid and TAG-check.pid. Daemons started with the same pid
// files refuse to run beside each other, as keepalived does.
func (h *Host) PidArgs(tag string) []string {
	pid := func(s string) string { return filepath.Join(h.lab.Dir, h.Name+"-"+tag+"-"+s+".pid") }
	return []string{"-p", pid("main"), "-r", pid("vrrp"), "-c", pid("check")}
}

// StartKeepalived runs Debian's keepalived (VRRP only) in the foreground
// with the configuration text.
func (h *Host) StartKeepalived(conf string) (*Proc, error) {
	path, err := h.lab.WriteFile(h.Name+"-ka.conf", conf)
	if err != nil {
		return nil, err
	}
	return h.Start("keepalived", append([]string{"-n", "-l", "-D", "-P", "-f", path}, h.PidArgs("ka")...)...)
}

// Signal sends sig to the daemon (ip netns exec execs it, so the pid is
// the daemon's own).
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Pid is the daemon's process id (ip netns exec execs it).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Wait waits at most d for the daemon to exit and returns its error.
func (p *Proc) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("%s still running after %v", p.Name, d)
	}
}

// Exited says whether the daemon has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop kills the daemon if it still runs and waits for it.
func (p *Proc) Stop() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Log is everything the daemon printed so far.
func (p *Proc) Log() string { return p.log.String() }

// SyncBuffer is a bytes.Buffer that goroutines may write while another
// reads it: a daemon's or a child's log, read by a test.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func runAll(cmds [][]string) error {
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// WaitHolder waits (polling every 10 ms, at most d) until holder is the
// only one of hosts that has addr, and returns how long that took.
func WaitHolder(addr netip.Addr, holder *Host, d time.Duration, hosts ...*Host) (time.Duration, error) {
	start := time.Now()
	for {
		ok := true
		for _, h := range hosts {
			if h.HasAddress(addr) != (h == holder) {
				ok = false
			}
		}
		if ok {
			return time.Since(start), nil
		}
		if time.Since(start) > d {
			var who []string
			for _, h := range hosts {
				if h.HasAddress(addr) {
					who = append(who, h.Name)
				}
			}
			return 0, fmt.Errorf("after %v %s should hold %s alone; holders: %v", d, holder.Name, addr, who)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BuildKeepalivedGo builds the keepalived-go command into a new temporary
// directory and returns the binary's path. It runs `go build` on the
// module's package, so it works from any directory inside the module.
func BuildKeepalivedGo() (string, error) {
	dir, err := os.MkdirTemp("", "kgbin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "keepalived-go")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/keepalived-go/keepalived-go/cmd/keepalived-go").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// WaitUntil polls cond every 5 ms until it holds, or fails after d with
// an error that says what was awaited.
func WaitUntil(what string, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
