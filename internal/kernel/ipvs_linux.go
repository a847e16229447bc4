//go:build linux

package kernel

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/cloudflare/ipvs"
	"github.com/mdlayher/genetlink"
	mnl "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// HasIPVS tells whether the kernel offers IPVS: its generic netlink
// family "IPVS" is registered (ip_vs loaded or built in), or ip_vs is a
// module keepalived would load (modprobe ip_vs).
func HasIPVS() bool {
	if _, err := netlink.GenlFamilyGet("IPVS"); err == nil {
		return true
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	dir := "/lib/modules/" + unix.ByteSliceToString(u.Release[:]) + "/"
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		if b, err := os.ReadFile(dir + f); err == nil && bytes.Contains(b, []byte("/ip_vs.ko")) {
			return true
		}
	}
	return false
}

// OpenIPVS connects to the IPVS of the calling thread's network namespace
// (the socket stays in it). As keepalived's ipvs_start
// (check/ipvswrapper.c), it loads ip_vs (modprobe) if the kernel does not
// know the IPVS family yet.
func OpenIPVS() (IPVS, error) {
	c, err := ipvs.New()
	if err != nil {
		modprobe("ip_vs")
		if c, err = ipvs.New(); err != nil {
			return nil, fmt.Errorf("kernel: IPVS: %w", err)
		}
	}
	g, err := genetlink.Dial(nil)
	if err != nil {
		c.(interface{ Close() error }).Close()
		return nil, fmt.Errorf("kernel: IPVS: %w", err)
	}
	fam, err := g.GetFamily("IPVS")
	if err != nil {
		g.Close()
		c.(interface{ Close() error }).Close()
		return nil, fmt.Errorf("kernel: IPVS: %w", err)
	}
	sock, err := openIPVSSock(fam.ID)
	if err != nil {
		g.Close()
		c.(interface{ Close() error }).Close()
		return nil, fmt.Errorf("kernel: IPVS: %w", err)
	}
	return &linuxIPVS{c: c, g: g, family: fam.ID, s: sock}, nil
}

// modprobe loads a module as keepalived_modprobe (core/utils.c) does: the
// kernel's modprobe helper (/proc/sys/kernel/modprobe), quietly.
func modprobe(module string) {
	path := "/sbin/modprobe"
	if b, err := os.ReadFile("/proc/sys/kernel/modprobe"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		path = strings.TrimSpace(string(b))
	}
	_ = exec.Command(path, "-s", "--", module).Run()
}

// linuxIPVS is IPVS over three generic netlink sockets: our own for the
// table's changes, many to a send, and its dumps (ipvs_batch.go), a
// mdlayher/genetlink one for IPVSControl (ipvs_genl.go), and
// cloudflare/ipvs's client for the counters (ipvs_stats_linux.go). Each
// socket takes one request at a time.
type linuxIPVS struct {
	mu     sync.Mutex
	c      ipvs.Client
	g      *genetlink.Conn
	family uint16
	// s takes the table's changes and dumps (ipvs_batch_linux.go).
	s *ipvsSock
}

var _ IPVSBatcher = (*linuxIPVS)(nil)

var _ IPVSControl = (*linuxIPVS)(nil)

// How a request is answered: an acknowledgement (a change), one reply
// (IPVS_CMD_GET_CONFIG: asking for an acknowledgement too would leave it
// unread, to be taken for the next request's answer) or a dump.
const (
	wantAck = iota
	wantReply
	wantDump
)

// execute sends one request of ours and returns the replies' payloads.
// Called with l.mu held.
func (l *linuxIPVS) execute(cmd uint8, data []byte, want int) ([][]byte, error) {
	flags := mnl.Request | mnl.Acknowledge
	switch want {
	case wantReply:
		flags = mnl.Request
	case wantDump:
		flags = mnl.Request | mnl.Dump
	}
	msgs, err := l.g.Execute(genetlink.Message{Header: genetlink.Header{Command: cmd, Version: ipvsGenlVersion}, Data: data},
		l.family, flags)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		if len(m.Data) > 0 {
			out = append(out, m.Data)
		}
	}
	return out, nil
}

func (l *linuxIPVS) Timeouts() (IPVSTimeouts, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msgs, err := l.execute(ipvsCmdGetConfig, nil, wantReply)
	if err != nil {
		return IPVSTimeouts{}, err
	}
	if len(msgs) == 0 {
		return IPVSTimeouts{}, errIPVSMessage
	}
	return decodeTimeouts(msgs[0])
}

func (l *linuxIPVS) SetTimeouts(t IPVSTimeouts) error {
	b, err := encodeTimeouts(t)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.execute(ipvsCmdSetConfig, b, wantAck)
	return err
}

func (l *linuxIPVS) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.execute(ipvsCmdFlush, nil, wantAck)
	return err
}

func (l *linuxIPVS) StartDaemon(d IPVSDaemon) error {
	b, err := encodeDaemon(d, true)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.execute(ipvsCmdNewDaemon, b, wantAck)
	return err
}

func (l *linuxIPVS) StopDaemon(state uint32) error {
	b, err := encodeDaemon(IPVSDaemon{State: state}, false)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.execute(ipvsCmdDelDaemon, b, wantAck)
	return err
}

func (l *linuxIPVS) Daemons() ([]IPVSDaemon, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msgs, err := l.execute(ipvsCmdGetDaemon, nil, wantDump)
	if err != nil {
		return nil, err
	}
	out := make([]IPVSDaemon, 0, len(msgs))
	for _, m := range msgs {
		d, err := decodeDaemonMessage(m)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// fromLibService is a service of the library's dump (Stats; it has no
// persistence engine: Services dumps through our own socket).
func fromLibService(s ipvs.ServiceExtended) IPVSService {
	out := IPVSService{Family: 4, Fwmark: s.FWMark, Sched: s.Scheduler, Flags: uint32(s.Flags) &^ IPVSFlagHashed, Timeout: s.Timeout}
	if s.Family == ipvs.INET6 {
		out.Family = 6
	}
	if s.FWMark == 0 {
		out.Proto = uint8(s.Protocol)
		out.Addr = netip.AddrPortFrom(s.Address.Unmap(), s.Port)
	}
	switch {
	case s.Netmask.Is4():
		b := s.Netmask.AsSlice()
		out.Netmask = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	case s.Netmask.Is6():
		out.Netmask = uint32(max(s.Netmask.Bits(), 0))
	}
	return out
}

func fromLibDest(d ipvs.DestinationExtended) IPVSDest {
	return IPVSDest{Addr: netip.AddrPortFrom(d.Address.Unmap(), d.Port), Fwd: uint32(d.FwdMethod) & 0x7, // IP_VS_CONN_F_FWD_MASK
		Weight: d.Weight, UThresh: d.UpperThreshold, LThresh: d.LowerThreshold,
		TunType: uint8(d.TunnelType), TunPort: d.TunnelPort, TunFlags: uint16(d.TunnelFlags)}
}

// Services dumps the table through our own socket: the library's dump
// drops the persistence engine.
func (l *linuxIPVS) Services() ([]IPVSService, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []IPVSService
	err := l.s.dump(ipvsCmdGetService, nil, func(m []byte) error {
		s, err := decodeServiceMessage(m)
		out = append(out, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Dests dumps a service's destinations through our own socket and
// decoder (the kernel dumps nothing for a missing service).
func (l *linuxIPVS) Dests(s IPVSService) ([]IPVSDest, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []IPVSDest
	err := l.s.dump(ipvsCmdGetDest, appendService(nil, s, false), func(m []byte) error {
		d, err := decodeDestMessage(m, s.Family)
		out = append(out, d)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Batch sends the changes many at a time (ipvs_batch_linux.go).
func (l *linuxIPVS) Batch(ops []IPVSOp) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.batch(ops)
}

func (l *linuxIPVS) one(op IPVSOp) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.batch([]IPVSOp{op})[0]
}

func (l *linuxIPVS) AddService(s IPVSService) error {
	return l.one(IPVSOp{Kind: IPVSAddService, Service: s})
}

func (l *linuxIPVS) EditService(s IPVSService) error {
	return l.one(IPVSOp{Kind: IPVSEditService, Service: s})
}

func (l *linuxIPVS) DelService(s IPVSService) error {
	return l.one(IPVSOp{Kind: IPVSDelService, Service: s})
}

func (l *linuxIPVS) AddDest(s IPVSService, d IPVSDest) error {
	return l.one(IPVSOp{Kind: IPVSAddDest, Service: s, Dest: d})
}

func (l *linuxIPVS) EditDest(s IPVSService, d IPVSDest) error {
	return l.one(IPVSOp{Kind: IPVSEditDest, Service: s, Dest: d})
}

func (l *linuxIPVS) DelDest(s IPVSService, d IPVSDest) error {
	return l.one(IPVSOp{Kind: IPVSDelDest, Service: s, Dest: d})
}

// Close closes the netlink sockets.
func (l *linuxIPVS) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.g.Close()
	l.s.close()
	if c, ok := l.c.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
