package kernel

// What github.com/cloudflare/ipvs v0.12.0 cannot say to IPVS, said over
// generic netlink directly (family "IPVS", include/uapi/linux/ip_vs.h), as
// keepalived's check/libipvs.c says it with libnl: the connection
// timeouts (IPVS_CMD_SET_CONFIG, GET_CONFIG), a flush of the whole table
// (IPVS_CMD_FLUSH), the sync daemons (IPVS_CMD_NEW_DAEMON, DEL_DAEMON,
// GET_DAEMON) and a service's persistence engine (IPVS_SVC_ATTR_PE_NAME,
// which the library neither sends nor reads). This file is the messages'
// encoding, the same on every platform; ipvs_linux.go sends them.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
)

// The IPVS generic netlink commands and attributes keepalived-go sends
// itself (include/uapi/linux/ip_vs.h).
const (
	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdGetService = 4
	ipvsCmdNewDaemon  = 9
	ipvsCmdDelDaemon  = 10
	ipvsCmdGetDaemon  = 11
	ipvsCmdSetConfig  = 12
	ipvsCmdGetConfig  = 13
	ipvsCmdFlush      = 17

	ipvsCmdAttrService       = 1
	ipvsCmdAttrDaemon        = 3
	ipvsCmdAttrTimeoutTCP    = 4
	ipvsCmdAttrTimeoutTCPFin = 5
	ipvsCmdAttrTimeoutUDP    = 6

	ipvsSvcAttrAF        = 1
	ipvsSvcAttrProtocol  = 2
	ipvsSvcAttrAddr      = 3
	ipvsSvcAttrPort      = 4
	ipvsSvcAttrFwmark    = 5
	ipvsSvcAttrSchedName = 6
	ipvsSvcAttrFlags     = 7
	ipvsSvcAttrTimeout   = 8
	ipvsSvcAttrNetmask   = 9
	ipvsSvcAttrPEName    = 11

	ipvsDaemonAttrState       = 1
	ipvsDaemonAttrMcastIfn    = 2
	ipvsDaemonAttrSyncID      = 3
	ipvsDaemonAttrSyncMaxlen  = 4
	ipvsDaemonAttrMcastGroup  = 5
	ipvsDaemonAttrMcastGroup6 = 6
	ipvsDaemonAttrMcastPort   = 7
	ipvsDaemonAttrMcastTTL    = 8

	ipvsGenlVersion = 1
)

// The sync daemon states (IP_VS_STATE_*).
const (
	IPVSSyncMaster uint32 = 1
	IPVSSyncBackup uint32 = 2
)

// IPVSTimeouts are IPVS's connection timeouts in seconds (ipvsadm
// --set): established TCP, TCP after a FIN, UDP. In a change, 0 leaves
// that one as it is (the kernel's ip_vs_set_timeout).
type IPVSTimeouts struct {
	TCP, TCPFin, UDP uint32
}

func (t IPVSTimeouts) String() string {
	return fmt.Sprintf("tcp %d tcpfin %d udp %d", t.TCP, t.TCPFin, t.UDP)
}

// IPVSDaemon is a connection synchronisation daemon (ipvsadm
// --start-daemon): a master sends its connections to the group, a backup
// receives them. Zero MaxLen, Port, TTL and an invalid Group are the
// kernel's defaults (the interface's MTU, 8848, 1, 224.0.0.81).
type IPVSDaemon struct {
	State     uint32 // IPVSSyncMaster or IPVSSyncBackup
	Interface string // the multicast interface
	SyncID    uint32 // 0-255
	MaxLen    uint16 // the largest sync message's payload
	Port      uint16
	TTL       uint8
	Group     netip.Addr
}

// StateName is "master" or "backup", as ipvsadm shows it.
func (d IPVSDaemon) StateName() string {
	switch d.State {
	case IPVSSyncMaster:
		return "master"
	case IPVSSyncBackup:
		return "backup"
	}
	return fmt.Sprintf("state %d", d.State)
}

// IPVSControl is what IPVS offers besides its table's entries. The
// errors carry the kernel's errno, as IPVS's do: EEXIST for a daemon of
// that state already running, ESRCH for none running.
type IPVSControl interface {
	Timeouts() (IPVSTimeouts, error)
	// SetTimeouts changes the timeouts that are not 0.
	SetTimeouts(IPVSTimeouts) error
	// Flush deletes every service of the table, whoever made it.
	Flush() error
	// StartDaemon starts the sync daemon of d.State.
	StartDaemon(d IPVSDaemon) error
	// StopDaemon stops the sync daemon of the state given.
	StopDaemon(state uint32) error
	// Daemons are the sync daemons running.
	Daemons() ([]IPVSDaemon, error)
}

// encodeService is a service's IPVS_CMD_ATTR_SERVICE payload as
// libipvs.c's ipvs_nl_fill_service_attr makes it: the address as 16
// bytes (nf_inet_addr), the port in network order, the flags with a mask
// of all ones, the persistence engine when there is one, the IPv4
// netmask in network order and an IPv6 prefix length in host order (the
// kernel reads both as be32 without converting the latter).
func encodeService(s IPVSService) ([]byte, error) {
	if strings.IndexByte(s.Sched, 0) >= 0 || strings.IndexByte(s.PE, 0) >= 0 {
		return nil, errIPVSName
	}
	return appendService(nil, s, true)[4:], nil // without the IPVS_CMD_ATTR_SERVICE around it
}

// errIPVSName is a scheduler or engine name that cannot be sent.
var errIPVSName = errors.New("kernel: IPVS: a name with a NUL byte")

// errIPVSMessage is a reply that is not what IPVS sends.
var errIPVSMessage = errors.New("kernel: IPVS: malformed message")

// decodeServiceMessage is the service of one IPVS_CMD_GET_SERVICE reply
// (its attributes), in encodeService's terms: the flags without
// IPVSFlagHashed.
func decodeServiceMessage(b []byte) (IPVSService, error) {
	var out IPVSService
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return out, err
	}
	found := false
	for ad.Next() {
		if ad.Type() == ipvsCmdAttrService {
			found = true
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				out, err = decodeService(nad)
				return err
			})
		}
	}
	if err := ad.Err(); err != nil {
		return IPVSService{}, err
	}
	if !found {
		return IPVSService{}, errIPVSMessage
	}
	return out, nil
}

func decodeService(ad *netlink.AttributeDecoder) (IPVSService, error) {
	var out IPVSService
	var addr, mask, flags []byte
	var port uint16
	var af uint16
	for ad.Next() {
		switch ad.Type() {
		case ipvsSvcAttrAF:
			af = ad.Uint16()
		case ipvsSvcAttrProtocol:
			out.Proto = uint8(ad.Uint16())
		case ipvsSvcAttrAddr:
			addr = ad.Bytes()
		case ipvsSvcAttrPort:
			if p := ad.Bytes(); len(p) == 2 {
				port = binary.BigEndian.Uint16(p)
			} else {
				return out, errIPVSMessage
			}
		case ipvsSvcAttrFwmark:
			out.Fwmark = ad.Uint32()
		case ipvsSvcAttrSchedName:
			out.Sched = ad.String()
		case ipvsSvcAttrPEName:
			out.PE = ad.String()
		case ipvsSvcAttrFlags:
			flags = ad.Bytes()
		case ipvsSvcAttrTimeout:
			out.Timeout = ad.Uint32()
		case ipvsSvcAttrNetmask:
			mask = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return IPVSService{}, err
	}
	switch af {
	case syscall.AF_INET:
		out.Family = 4
	case syscall.AF_INET6:
		out.Family = 6
	default:
		return IPVSService{}, errIPVSMessage
	}
	if len(flags) != 8 || len(mask) != 4 {
		return IPVSService{}, errIPVSMessage
	}
	out.Flags = binary.NativeEndian.Uint32(flags) &^ IPVSFlagHashed
	if out.Family == 6 {
		out.Netmask = nlenc.Uint32(mask)
	} else {
		out.Netmask = binary.BigEndian.Uint32(mask)
	}
	if out.Fwmark == 0 {
		var a netip.Addr
		switch {
		case out.Family == 4 && len(addr) >= 4:
			a = netip.AddrFrom4([4]byte(addr[:4]))
		case out.Family == 6 && len(addr) == 16:
			a = netip.AddrFrom16([16]byte(addr))
		default:
			return IPVSService{}, errIPVSMessage
		}
		out.Addr = netip.AddrPortFrom(a, port)
	}
	return out, nil
}

// encodeTimeouts is IPVS_CMD_SET_CONFIG's payload, as libipvs.c's
// ipvs_set_timeout sends it: the three timeouts.
func encodeTimeouts(t IPVSTimeouts) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(ipvsCmdAttrTimeoutTCP, t.TCP)
	ae.Uint32(ipvsCmdAttrTimeoutTCPFin, t.TCPFin)
	ae.Uint32(ipvsCmdAttrTimeoutUDP, t.UDP)
	return ae.Encode()
}

// decodeTimeouts reads IPVS_CMD_GET_CONFIG's reply.
func decodeTimeouts(b []byte) (IPVSTimeouts, error) {
	var t IPVSTimeouts
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return t, err
	}
	for ad.Next() {
		switch ad.Type() {
		case ipvsCmdAttrTimeoutTCP:
			t.TCP = ad.Uint32()
		case ipvsCmdAttrTimeoutTCPFin:
			t.TCPFin = ad.Uint32()
		case ipvsCmdAttrTimeoutUDP:
			t.UDP = ad.Uint32()
		}
	}
	return t, ad.Err()
}

// encodeDaemon is IPVS_CMD_NEW_DAEMON's payload (start) or
// IPVS_CMD_DEL_DAEMON's (stop: the state and sync id only), as
// libipvs.c's ipvs_start_daemon and ipvs_stop_daemon send them: the
// optional settings only when set, an IPv4 group in network order.
func encodeDaemon(d IPVSDaemon, start bool) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(ipvsCmdAttrDaemon, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(ipvsDaemonAttrState, d.State)
		if start {
			nae.String(ipvsDaemonAttrMcastIfn, d.Interface)
		}
		nae.Uint32(ipvsDaemonAttrSyncID, d.SyncID)
		if !start {
			return nil
		}
		if d.MaxLen != 0 {
			nae.Uint16(ipvsDaemonAttrSyncMaxlen, d.MaxLen)
		}
		if d.Port != 0 {
			nae.Uint16(ipvsDaemonAttrMcastPort, d.Port)
		}
		if d.TTL != 0 {
			nae.Uint8(ipvsDaemonAttrMcastTTL, d.TTL)
		}
		switch {
		case d.Group.Is4():
			a := d.Group.As4()
			nae.Bytes(ipvsDaemonAttrMcastGroup, a[:])
		case d.Group.Is6():
			a := d.Group.As16()
			nae.Bytes(ipvsDaemonAttrMcastGroup6, a[:])
		}
		return nil
	})
	return ae.Encode()
}

// decodeDaemonMessage is the daemon of one IPVS_CMD_GET_DAEMON reply.
func decodeDaemonMessage(b []byte) (IPVSDaemon, error) {
	var d IPVSDaemon
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return d, err
	}
	found := false
	for ad.Next() {
		if ad.Type() != ipvsCmdAttrDaemon {
			continue
		}
		found = true
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				switch nad.Type() {
				case ipvsDaemonAttrState:
					d.State = nad.Uint32()
				case ipvsDaemonAttrMcastIfn:
					d.Interface = nad.String()
				case ipvsDaemonAttrSyncID:
					d.SyncID = nad.Uint32()
				case ipvsDaemonAttrSyncMaxlen:
					d.MaxLen = nad.Uint16()
				case ipvsDaemonAttrMcastPort:
					d.Port = nad.Uint16()
				case ipvsDaemonAttrMcastTTL:
					d.TTL = nad.Uint8()
				case ipvsDaemonAttrMcastGroup:
					if a, ok := netip.AddrFromSlice(nad.Bytes()); ok && a.Is4() {
						d.Group = a
					} else {
						return errIPVSMessage
					}
				case ipvsDaemonAttrMcastGroup6:
					if a, ok := netip.AddrFromSlice(nad.Bytes()); ok && a.Is6() {
						d.Group = a
					} else {
						return errIPVSMessage
					}
				}
			}
			return nil
		})
	}
	if err := ad.Err(); err != nil {
		return IPVSDaemon{}, err
	}
	if !found {
		return IPVSDaemon{}, errIPVSMessage
	}
	return d, nil
}

// The kernel's default timeouts (ip_vs_proto_tcp.c, ip_vs_proto_udp.c).
var defaultIPVSTimeouts = IPVSTimeouts{TCP: 900, TCPFin: 120, UDP: 300}

var _ IPVSControl = (*FakeIPVS)(nil)

// Timeouts are the fake kernel's timeouts.
func (f *FakeIPVS) Timeouts() (IPVSTimeouts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return IPVSTimeouts{}, f.Fail
	}
	if f.timeouts == nil {
		return defaultIPVSTimeouts, nil
	}
	return *f.timeouts, nil
}

// SetTimeouts changes the timeouts that are not 0.
func (f *FakeIPVS) SetTimeouts(t IPVSTimeouts) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail == nil {
		cur := defaultIPVSTimeouts
		if f.timeouts != nil {
			cur = *f.timeouts
		}
		for _, p := range []struct{ to, from *uint32 }{{&cur.TCP, &t.TCP}, {&cur.TCPFin, &t.TCPFin}, {&cur.UDP, &t.UDP}} {
			if *p.from != 0 {
				*p.to = *p.from
			}
		}
		f.timeouts = &cur
	}
	f.calls = append(f.calls, "set-timeouts "+t.String()+errSuffix(f.Fail))
	return f.Fail
}

// Flush deletes every service.
func (f *FakeIPVS) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail == nil {
		f.services = nil
	}
	f.calls = append(f.calls, "flush"+errSuffix(f.Fail))
	return f.Fail
}

// StartDaemon starts a daemon: EEXIST if one of its state runs.
func (f *FakeIPVS) StartDaemon(d IPVSDaemon) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.Fail
	if err == nil {
		if slices.ContainsFunc(f.daemons, func(x IPVSDaemon) bool { return x.State == d.State }) {
			err = syscall.EEXIST
		} else {
			f.daemons = append(f.daemons, d)
		}
	}
	f.calls = append(f.calls, fmt.Sprintf("start-daemon %s %s id %d", d.StateName(), d.Interface, d.SyncID)+errSuffix(err))
	return err
}

// StopDaemon stops the daemon of a state: ESRCH if none runs.
func (f *FakeIPVS) StopDaemon(state uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.Fail
	if err == nil {
		n := len(f.daemons)
		f.daemons = slices.DeleteFunc(f.daemons, func(x IPVSDaemon) bool { return x.State == state })
		if len(f.daemons) == n {
			err = syscall.ESRCH
		}
	}
	f.calls = append(f.calls, "stop-daemon "+IPVSDaemon{State: state}.StateName()+errSuffix(err))
	return err
}

// Daemons are the daemons running, masters first.
func (f *FakeIPVS) Daemons() ([]IPVSDaemon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return nil, f.Fail
	}
	out := slices.Clone(f.daemons)
	slices.SortStableFunc(out, func(a, b IPVSDaemon) int { return int(a.State) - int(b.State) })
	return out, nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
