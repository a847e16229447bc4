package kernel

// IPVS's table changes and destination dumps encoded and decoded here,
// without github.com/cloudflare/ipvs: many changes go to the kernel in one
// sendmsg and their acknowledgements come back together (ipvs_batch_linux.go),
// instead of one request and one acknowledgement per call. The generic
// netlink family accepts that: the kernel's netlink_rcv_skb runs every
// message of a send in turn and acknowledges each (NLM_F_ACK), an error
// included, without stopping at it. keepalived's libipvs.c sends one
// message per call (ipvs_nl_send_message); what each message holds is
// the same (ipvs_nl_fill_service_attr, ipvs_nl_fill_dest_attr).

import (
	"encoding/binary"
	"net/netip"
	"syscall"
)

// IPVSOpKind is a change of the IPVS table.
type IPVSOpKind uint8

// The changes of an IPVSOp.
const (
	IPVSAddService IPVSOpKind = iota + 1
	IPVSEditService
	IPVSDelService
	IPVSAddDest
	IPVSEditDest
	IPVSDelDest
)

// IPVSOp is one change: a service's, or one of its destinations'.
type IPVSOp struct {
	Kind    IPVSOpKind
	Service IPVSService
	Dest    IPVSDest // the destination's changes only
}

// IPVSBatcher is an IPVS that takes many changes at once.
type IPVSBatcher interface {
	// Batch performs the changes in order, each as its own call
	// (AddService...) would: a failed one does not stop the others.
	// errs[i] is ops[i]'s error, with the kernel's errno.
	Batch(ops []IPVSOp) (errs []error)
}

var _ IPVSBatcher = (*FakeIPVS)(nil)

// Batch performs the changes one by one.
func (f *FakeIPVS) Batch(ops []IPVSOp) []error {
	errs := make([]error, len(ops))
	for i, op := range ops {
		switch op.Kind {
		case IPVSAddService:
			errs[i] = f.AddService(op.Service)
		case IPVSEditService:
			errs[i] = f.EditService(op.Service)
		case IPVSDelService:
			errs[i] = f.DelService(op.Service)
		case IPVSAddDest:
			errs[i] = f.AddDest(op.Service, op.Dest)
		case IPVSEditDest:
			errs[i] = f.EditDest(op.Service, op.Dest)
		case IPVSDelDest:
			errs[i] = f.DelDest(op.Service, op.Dest)
		default:
			errs[i] = syscall.EINVAL
		}
	}
	return errs
}

// The generic netlink commands and attributes of the table's entries
// (include/uapi/linux/ip_vs.h) beside ipvs_genl.go's.
const (
	ipvsCmdDelService = 3
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7
	ipvsCmdGetDest    = 8

	ipvsCmdAttrDest = 2

	ipvsDestAttrAddr       = 1
	ipvsDestAttrPort       = 2
	ipvsDestAttrFwdMethod  = 3
	ipvsDestAttrWeight     = 4
	ipvsDestAttrUThresh    = 5
	ipvsDestAttrLThresh    = 6
	ipvsDestAttrAddrFamily = 11
	ipvsDestAttrTunType    = 13
	ipvsDestAttrTunPort    = 14
	ipvsDestAttrTunFlags   = 15
)

// The netlink header's flags and types this file uses
// (include/uapi/linux/netlink.h).
const (
	nlmFRequest = 0x1
	nlmFAck     = 0x4
	nlmFDump    = 0x300
	nlmsgError  = 0x2
	nlmsgDone   = 0x3
	nlmsgHdrLen = 16
	genlHdrLen  = 4
)

// appendAttr appends a netlink attribute: its length (header and value,
// unpadded), type and value, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, val ...byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(val)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func appendU16(b []byte, typ, v uint16) []byte {
	var x [2]byte
	binary.NativeEndian.PutUint16(x[:], v)
	return appendAttr(b, typ, x[:]...)
}

func appendU32(b []byte, typ uint16, v uint32) []byte {
	var x [4]byte
	binary.NativeEndian.PutUint32(x[:], v)
	return appendAttr(b, typ, x[:]...)
}

func appendBE16(b []byte, typ, v uint16) []byte {
	return appendAttr(b, typ, byte(v>>8), byte(v))
}

func appendString(b []byte, typ uint16, s string) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(s)+1))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, s...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// beginNested starts a nested attribute; endNested sets its length.
func beginNested(b []byte, typ uint16) ([]byte, int) {
	return appendAttr(b, typ|0x8000), len(b) // NLA_F_NESTED, as libnl's nla_nest_start sets it
}

func endNested(b []byte, start int) []byte {
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
	return b
}

// addr16 is an address as IPVS's nf_inet_addr: an IPv4 address in the
// first four bytes.
func addr16(a netip.Addr) [16]byte {
	if a.Is4() {
		var out [16]byte
		a4 := a.As4()
		copy(out[:], a4[:])
		return out
	}
	return a.As16()
}

// appendService appends a service's IPVS_CMD_ATTR_SERVICE: all of it
// (encodeService's attributes, for NEW_SERVICE and SET_SERVICE) or only
// its key (what the kernel's ip_vs_genl_parse_service reads for the other
// commands).
func appendService(b []byte, s IPVSService, full bool) []byte {
	b, start := beginNested(b, ipvsCmdAttrService)
	af := uint16(syscall.AF_INET)
	if s.Family == 6 {
		af = syscall.AF_INET6
	}
	b = appendU16(b, ipvsSvcAttrAF, af)
	if s.Fwmark != 0 {
		b = appendU32(b, ipvsSvcAttrFwmark, s.Fwmark)
	} else {
		b = appendU16(b, ipvsSvcAttrProtocol, uint16(s.Proto))
		a := addr16(s.Addr.Addr())
		b = appendAttr(b, ipvsSvcAttrAddr, a[:]...)
		b = appendBE16(b, ipvsSvcAttrPort, s.Addr.Port())
	}
	if full {
		b = appendString(b, ipvsSvcAttrSchedName, s.Sched)
		if s.PE != "" {
			b = appendString(b, ipvsSvcAttrPEName, s.PE)
		}
		var flags [8]byte
		binary.NativeEndian.PutUint32(flags[:], s.Flags)
		binary.NativeEndian.PutUint32(flags[4:], ^uint32(0))
		b = appendAttr(b, ipvsSvcAttrFlags, flags[:]...)
		b = appendU32(b, ipvsSvcAttrTimeout, s.Timeout)
		var mask [4]byte
		if s.Family == 6 {
			binary.NativeEndian.PutUint32(mask[:], s.Netmask) // a prefix length, host order
		} else {
			binary.BigEndian.PutUint32(mask[:], s.Netmask)
		}
		b = appendAttr(b, ipvsSvcAttrNetmask, mask[:]...)
	}
	return endNested(b, start)
}

// appendDest appends a destination's IPVS_CMD_ATTR_DEST, every attribute
// (libipvs.c's ipvs_nl_fill_dest_attr; the kernel's
// ip_vs_genl_parse_dest).
func appendDest(b []byte, d IPVSDest) []byte {
	b, start := beginNested(b, ipvsCmdAttrDest)
	af := uint16(syscall.AF_INET)
	if d.Addr.Addr().Is6() {
		af = syscall.AF_INET6
	}
	b = appendU16(b, ipvsDestAttrAddrFamily, af)
	a := addr16(d.Addr.Addr())
	b = appendAttr(b, ipvsDestAttrAddr, a[:]...)
	b = appendBE16(b, ipvsDestAttrPort, d.Addr.Port())
	b = appendU32(b, ipvsDestAttrFwdMethod, d.Fwd)
	b = appendU32(b, ipvsDestAttrWeight, d.Weight)
	b = appendU32(b, ipvsDestAttrUThresh, d.UThresh)
	b = appendU32(b, ipvsDestAttrLThresh, d.LThresh)
	b = appendAttr(b, ipvsDestAttrTunType, d.TunType)
	b = appendBE16(b, ipvsDestAttrTunPort, d.TunPort)
	b = appendU16(b, ipvsDestAttrTunFlags, d.TunFlags)
	return endNested(b, start)
}

// appendOpMessage appends one change as a whole netlink message (header,
// generic netlink header, attributes), asking for its acknowledgement.
func appendOpMessage(b []byte, family uint16, seq uint32, op IPVSOp) []byte {
	var cmd uint8
	switch op.Kind {
	case IPVSAddService:
		cmd = ipvsCmdNewService
	case IPVSEditService:
		cmd = ipvsCmdSetService
	case IPVSDelService:
		cmd = ipvsCmdDelService
	case IPVSAddDest:
		cmd = ipvsCmdNewDest
	case IPVSEditDest:
		cmd = ipvsCmdSetDest
	case IPVSDelDest:
		cmd = ipvsCmdDelDest
	}
	start := len(b)
	b = appendMessageHeader(b, family, nlmFRequest|nlmFAck, seq, cmd)
	full := op.Kind == IPVSAddService || op.Kind == IPVSEditService
	b = appendService(b, op.Service, full)
	if op.Kind >= IPVSAddDest {
		b = appendDest(b, op.Dest)
	}
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendMessageHeader appends a netlink header (its length 0, for the
// caller to set) and a generic netlink header.
func appendMessageHeader(b []byte, family, flags uint16, seq uint32, cmd uint8) []byte {
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, family)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // the kernel's port id
	return append(b, cmd, ipvsGenlVersion, 0, 0)
}

// nextAttr splits the first attribute off b: its type (without the
// nested and byte-order flags) and value; ok is false at the end or on a
// malformed attribute (then rest is nil).
func nextAttr(b []byte) (typ uint16, val, rest []byte, ok bool) {
	if len(b) < 4 {
		return 0, nil, nil, false
	}
	l := int(binary.NativeEndian.Uint16(b))
	if l < 4 || l > len(b) {
		return 0, nil, nil, false
	}
	typ = binary.NativeEndian.Uint16(b[2:]) & 0x3fff
	val = b[4:l]
	l = (l + 3) &^ 3
	if l > len(b) {
		l = len(b)
	}
	return typ, val, b[l:], true
}

// nextMessage splits the first netlink message off b: its type, flags,
// sequence number and payload (after the netlink header); ok is false at
// the end or on a malformed message.
func nextMessage(b []byte) (typ uint16, seq uint32, payload, rest []byte, ok bool) {
	if len(b) < nlmsgHdrLen {
		return 0, 0, nil, nil, false
	}
	l := int(binary.NativeEndian.Uint32(b))
	if l < nlmsgHdrLen || l > len(b) {
		return 0, 0, nil, nil, false
	}
	typ = binary.NativeEndian.Uint16(b[4:])
	seq = binary.NativeEndian.Uint32(b[8:])
	payload = b[nlmsgHdrLen:l]
	l = (l + 3) &^ 3
	if l > len(b) {
		l = len(b)
	}
	return typ, seq, payload, b[l:], true
}

// errnoOfAck is the errno of an NLMSG_ERROR message's payload (0: an
// acknowledgement).
func errnoOfAck(payload []byte) (syscall.Errno, bool) {
	if len(payload) < 4 {
		return 0, false
	}
	return syscall.Errno(-int32(binary.NativeEndian.Uint32(payload))), true
}

// matchAcks reads the acknowledgements in b of the requests sent with
// sequence numbers first, first+1...: errs[k] and answered[k] for the
// request first+k. Other messages (answers to earlier requests) are
// skipped. It returns how many requests it found answered.
func matchAcks(b []byte, first uint32, errs []error, answered []bool) int {
	n := 0
	for {
		typ, seq, payload, rest, ok := nextMessage(b)
		if !ok {
			return n
		}
		b = rest
		k := seq - first // wraps for an earlier sequence number
		if typ != nlmsgError || uint64(k) >= uint64(len(answered)) || answered[k] {
			continue
		}
		if errno, ok := errnoOfAck(payload); !ok {
			errs[k] = errIPVSMessage
		} else if errno != 0 {
			errs[k] = errno
		}
		answered[k] = true
		n++
	}
}

// decodeDestMessage is the destination of one IPVS_CMD_GET_DEST reply's
// attributes (after the generic netlink header), of a service of family
// (4 or 6) when the kernel does not say the destination's (before Linux
// 3.18).
func decodeDestMessage(b []byte, family int) (IPVSDest, error) {
	for {
		typ, val, rest, ok := nextAttr(b)
		if !ok {
			return IPVSDest{}, errIPVSMessage // malformed, or no IPVS_CMD_ATTR_DEST
		}
		if typ == ipvsCmdAttrDest {
			return decodeDest(val, family)
		}
		b = rest
	}
}

func decodeDest(b []byte, family int) (IPVSDest, error) {
	var d IPVSDest
	var addr []byte
	var port uint16
	af := uint16(syscall.AF_INET)
	if family == 6 {
		af = syscall.AF_INET6
	}
	for len(b) > 0 {
		typ, val, rest, ok := nextAttr(b)
		if !ok {
			return IPVSDest{}, errIPVSMessage
		}
		b = rest
		var u32 uint32
		if len(val) == 4 {
			u32 = binary.NativeEndian.Uint32(val)
		}
		switch typ {
		case ipvsDestAttrAddr:
			addr = val
		case ipvsDestAttrPort, ipvsDestAttrTunPort:
			if len(val) != 2 {
				return IPVSDest{}, errIPVSMessage
			}
			if typ == ipvsDestAttrPort {
				port = binary.BigEndian.Uint16(val)
			} else {
				d.TunPort = binary.BigEndian.Uint16(val)
			}
		case ipvsDestAttrFwdMethod:
			d.Fwd = u32 & 0x7 // IP_VS_CONN_F_FWD_MASK
		case ipvsDestAttrWeight:
			d.Weight = u32
		case ipvsDestAttrUThresh:
			d.UThresh = u32
		case ipvsDestAttrLThresh:
			d.LThresh = u32
		case ipvsDestAttrAddrFamily, ipvsDestAttrTunFlags:
			if len(val) != 2 {
				return IPVSDest{}, errIPVSMessage
			}
			if typ == ipvsDestAttrAddrFamily {
				af = binary.NativeEndian.Uint16(val)
			} else {
				d.TunFlags = binary.NativeEndian.Uint16(val)
			}
		case ipvsDestAttrTunType:
			if len(val) != 1 {
				return IPVSDest{}, errIPVSMessage
			}
			d.TunType = val[0]
		}
	}
	var a netip.Addr
	switch {
	case af == syscall.AF_INET && len(addr) >= 4:
		a = netip.AddrFrom4([4]byte(addr[:4]))
	case af == syscall.AF_INET6 && len(addr) == 16:
		a = netip.AddrFrom16([16]byte(addr))
	default:
		return IPVSDest{}, errIPVSMessage
	}
	d.Addr = netip.AddrPortFrom(a, port)
	return d, nil
}
