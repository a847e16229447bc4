// Package vrrp implements the VRRP advertisement codec: VRRPv2 (RFC 3768)
// and VRRPv3 (RFC 5798, RFC 9568) over IPv4 and IPv6.
//
// The codec works on the VRRP message only (the IP payload). The caller owns
// the IP header: it passes the source and destination addresses (needed for
// the VRRPv3 pseudo-header checksum) and checks the TTL / hop limit itself
// (see CheckTTL).
//
// # Wire formats
//
// VRRPv2 (IPv4 only):
//
//	0                   1                   2                   3
//	|Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//	|   Auth Type   |   Adver Int   |          Checksum             |
//	|                 IP Address (1..n), 4 bytes each               |
//	|                Authentication Data (8 bytes)                  |
//
// VRRPv3 (IPv4 or IPv6, no authentication):
//
//	|Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//	|(rsvd) |     Max Adver Int     |          Checksum             |
//	|            IPvX Address (1..n), 4 or 16 bytes each            |
//
// # Checksums
//
//   - VRRPv2: the Internet checksum over the VRRP message only.
//   - VRRPv3 over IPv6: over the IPv6 pseudo-header (RFC 8200 §8.1) and the
//     message, always.
//   - VRRPv3 over IPv4: RFC 5798 §5.2.8 says "pseudo-header as defined in
//     RFC 2460", which keepalived (all versions, by default), FRR (default)
//     and Wireshark read as "include the IPv4 pseudo-header (src, dst, 0,
//     112, length)". RFC 9568 clarified that for IPv4 the checksum covers the
//     message only, as Cisco and Juniper always did. ChecksumV3Pseudo selects
//     the former (the default, interoperable with keepalived and FRR),
//     ChecksumV2Style the latter (keepalived's v3_checksum_as_v2, FRR's
//     "no checksum-with-ipv4-pseudoheader").
//
// keepalived before 1.3.6 put the multicast group (224.0.0.18) rather than
// the real unicast destination into the pseudo-header of unicast VRRPv3
// adverts; keepalived's old_unicast_checksum keyword still sends that form,
// and a receiving keepalived auto-detects it (it retries the check with the
// multicast group and, on success, switches the instance to the old form,
// logging "Setting unicast VRRPv3 checksum to old version"). This package
// does not guess: a caller that wants the same compatibility calls Parse
// again with dst = 224.0.0.18 after a checksum_err on a unicast advert, and
// Marshals with dst = 224.0.0.18 to send the old form. Likewise a caller
// that wants to auto-detect RFC 9568 peers retries with the other
// ChecksumMode.
//
// # Length
//
// The message length must equal exactly 8 + Count×(4|16) (+ 8 bytes of
// authentication data for v2). Trailing bytes are rejected with
// packet_len_err, as keepalived 2.2.7 does: verified against the real
// daemon, which logs "vrrp packet too long, length 44 and expect 40",
// counts packet_len_err and discards the advert. The caller must therefore
// pass exactly the IP payload (IPv4 Total Length minus header length, or the
// IPv6 Payload Length minus extension headers), not a buffer with link-layer
// padding.
package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// IPProto is the IP protocol number of VRRP.
const IPProto = 112

// TTL is the IPv4 TTL / IPv6 hop limit VRRP adverts are sent with and that
// receivers require for multicast adverts.
const TTL = 255

// Multicast destinations of VRRP adverts.
var (
	MulticastIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	MulticastIPv6 = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 0x12})
)

// TypeAdvertisement is the only VRRP packet type.
const TypeAdvertisement = 1

// VRRPv2 authentication types (RFC 2338 / RFC 3768 §5.3.6).
const (
	AuthNone = 0 // no authentication
	AuthPass = 1 // simple text password (deprecated by RFC 3768)
	AuthAH   = 2 // IP Authentication Header (deprecated by RFC 3768)
)

// AuthDataLen is the length of the VRRPv2 Authentication Data field.
const AuthDataLen = 8

// MaxAddrs is the largest number of addresses one advert can carry.
const MaxAddrs = 255

const headerLen = 8

// Interval limits.
const (
	// MaxIntervalV2 is the largest VRRPv2 Adver Int (8 bits, seconds).
	MaxIntervalV2 = 255 * time.Second
	// MaxIntervalV3 is the largest VRRPv3 Max Adver Int (12 bits, centiseconds).
	MaxIntervalV3 = 4095 * 10 * time.Millisecond
)

// Advert is one decoded VRRP advertisement.
type Advert struct {
	// Version is 2 (RFC 3768) or 3 (RFC 5798/9568).
	Version uint8
	// Type is the packet type; 1 (TypeAdvertisement) is the only one.
	// Marshal writes 0 as 1.
	Type uint8
	// VRID is the Virtual Router ID, 1..255.
	VRID uint8
	// Priority: 255 owner, 1..254 backup, 0 the master resigns.
	Priority uint8
	// AuthType (v2 only): AuthNone, AuthPass or AuthAH.
	AuthType uint8
	// AuthData (v2 only) is the Authentication Data field as received or to
	// send: the zero-padded password for AuthPass, normally zero otherwise
	// (RFC 3768: "SHOULD be set to zero on transmission and ignored on
	// reception"; it is kept so that a parsed advert re-marshals exactly).
	AuthData [AuthDataLen]byte
	// Interval is the advertisement interval: v2 Adver Int in whole seconds
	// (1..255 s), v3 Max Adver Int in centiseconds (10 ms..40.95 s).
	Interval time.Duration
	// Addrs are the virtual addresses, all IPv4 or all IPv6 (matching the
	// family of the IP header). Parse returns them without zone.
	Addrs []netip.Addr
	// Checksum is the checksum field as received. Marshal ignores it and
	// computes the right value.
	Checksum uint16
}

// ChecksumMode selects how the VRRPv3 checksum over IPv4 is computed.
// It has no effect on VRRPv2 (message only) or on VRRPv3 over IPv6 (IPv6
// pseudo-header, always).
type ChecksumMode int

const (
	// ChecksumV3Pseudo includes the IPv4 pseudo-header in the VRRPv3
	// checksum, as keepalived and FRR do by default (RFC 5798 as commonly
	// implemented).
	ChecksumV3Pseudo ChecksumMode = iota
	// ChecksumV2Style computes the VRRPv3 checksum over IPv4 over the VRRP
	// message only, like VRRPv2 (RFC 9568; keepalived's v3_checksum_as_v2).
	ChecksumV2Style
)

// String returns the mode's name.
func (m ChecksumMode) String() string {
	switch m {
	case ChecksumV3Pseudo:
		return "v3-pseudo-header"
	case ChecksumV2Style:
		return "v2-style"
	}
	return fmt.Sprintf("ChecksumMode(%d)", int(m))
}

// DropReason says why a received advert was discarded.
type DropReason int

// Drop reasons. String() gives keepalived's counter name (vrrp_stats in
// keepalived's vrrp.h, as printed in /tmp/keepalived.stats and the JSON
// dump) where keepalived has a counter; version_err, checksum_err and
// vrid_unknown are ours (keepalived only logs those events).
const (
	// DropPacketLen: shorter than a header, or the length differs from the
	// one implied by the address count (keepalived "vrrp packet too
	// short/long"). Counter packet_len_err.
	DropPacketLen DropReason = iota + 1
	// DropInvalidType: type is not 1 (advertisement). invalid_type_rcvd.
	DropInvalidType
	// DropTTL: IPv4 TTL / IPv6 hop limit is not 255 (multicast) or out of
	// the configured range (unicast). Checked by the caller. ip_ttl_err.
	DropTTL
	// DropAddrList: a unicast advert to a multicast instance, or the
	// reverse (keepalived counts these in addr_list_err, as it does adverts
	// whose address list differs, which are accepted: see
	// Stats.AddrListErr). Checked by the caller.
	DropAddrList
	// DropInvalidAuthType: v2 auth type is not 0, 1 or 2. invalid_authtype.
	DropInvalidAuthType
	// DropAuthTypeMismatch: v2 auth type differs from the configured one.
	// authtype_mismatch.
	DropAuthTypeMismatch
	// DropAuthFailure: v2 password mismatch. auth_failure.
	DropAuthFailure
	// DropAdvertInterval: zero interval (Parse), or a v2 interval that
	// differs from the configured one (caller). advert_interval_err.
	DropAdvertInterval
	// DropVersion: version is not 2 or 3, v2 over IPv6, or (caller) not the
	// configured version. Ours: version_err.
	DropVersion
	// DropChecksum: checksum mismatch. Ours: checksum_err.
	DropChecksum
	// DropVRIDUnknown: no instance for this VRID (caller), or VRID 0 which
	// can never be configured (Parse). Ours: vrid_unknown.
	DropVRIDUnknown
	// DropUnicastSrc: a unicast advert from an address that is not a
	// configured peer, with check_unicast_src (caller). Ours:
	// unicast_src_err.
	DropUnicastSrc
)

var dropReasonNames = [...]string{
	DropPacketLen:        "packet_len_err",
	DropInvalidType:      "invalid_type_rcvd",
	DropTTL:              "ip_ttl_err",
	DropAddrList:         "addr_list_err",
	DropInvalidAuthType:  "invalid_authtype",
	DropAuthTypeMismatch: "authtype_mismatch",
	DropAuthFailure:      "auth_failure",
	DropAdvertInterval:   "advert_interval_err",
	DropVersion:          "version_err",
	DropChecksum:         "checksum_err",
	DropVRIDUnknown:      "vrid_unknown",
	DropUnicastSrc:       "unicast_src_err",
}

// String returns the counter name, e.g. "packet_len_err".
func (r DropReason) String() string {
	if r > 0 && int(r) < len(dropReasonNames) {
		return dropReasonNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", int(r))
}

// DropReasons lists every reason, in counter order.
func DropReasons() []DropReason {
	rs := make([]DropReason, 0, len(dropReasonNames)-1)
	for r := DropPacketLen; int(r) < len(dropReasonNames); r++ {
		rs = append(rs, r)
	}
	return rs
}

// DropError is returned for an advert that must be discarded.
type DropError struct {
	Reason DropReason
	// Detail is a human-readable explanation (modelled on keepalived's log
	// line where there is one).
	Detail string
}

func (e *DropError) Error() string {
	if e.Detail == "" {
		return "vrrp: drop: " + e.Reason.String()
	}
	return "vrrp: drop: " + e.Reason.String() + ": " + e.Detail
}

// Is reports whether target is a *DropError with the same Reason, so that
// errors.Is(err, &DropError{Reason: DropChecksum}) works.
func (e *DropError) Is(target error) bool {
	t, ok := target.(*DropError)
	return ok && t.Reason == e.Reason
}

func drop(r DropReason, format string, args ...any) *DropError {
	return &DropError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Reason returns the DropReason of err if it is (or wraps) a *DropError.
func Reason(err error) (DropReason, bool) {
	var de *DropError
	if errors.As(err, &de) {
		return de.Reason, true
	}
	return 0, false
}

// Len returns the length of the encoded advert.
func (a *Advert) Len() int {
	n := headerLen + len(a.Addrs)*4
	if len(a.Addrs) > 0 && a.Addrs[0].Is6() {
		n = headerLen + len(a.Addrs)*16
	}
	if a.Version == 2 {
		n += AuthDataLen
	}
	return n
}

// Marshal encodes the advert as a VRRP message (the IP payload, without IP
// header) and fills in the checksum. src and dst are the IP source and
// destination the message will be sent with; for VRRPv2 they are not used
// and may be the zero Addr (if valid they must be IPv4). For VRRPv3 both
// must be valid and of the family of Addrs.
func (a *Advert) Marshal(src, dst netip.Addr, mode ChecksumMode) ([]byte, error) {
	return a.AppendMarshal(make([]byte, 0, a.Len()), src, dst, mode)
}

// AppendMarshal is Marshal appending to b (no allocation if b has room).
func (a *Advert) AppendMarshal(b []byte, src, dst netip.Addr, mode ChecksumMode) ([]byte, error) {
	if mode != ChecksumV3Pseudo && mode != ChecksumV2Style {
		return b, fmt.Errorf("vrrp: marshal: unknown checksum mode %d", int(mode))
	}
	if a.Version != 2 && a.Version != 3 {
		return b, fmt.Errorf("vrrp: marshal: version %d, want 2 or 3", a.Version)
	}
	typ := a.Type
	if typ == 0 {
		typ = TypeAdvertisement
	}
	if typ != TypeAdvertisement {
		return b, fmt.Errorf("vrrp: marshal: type %d, want %d (advertisement)", typ, TypeAdvertisement)
	}
	if a.VRID == 0 {
		return b, errors.New("vrrp: marshal: VRID 0 is invalid (1..255)")
	}
	if len(a.Addrs) > MaxAddrs {
		return b, fmt.Errorf("vrrp: marshal: %d addresses, at most %d", len(a.Addrs), MaxAddrs)
	}
	src, dst = src.Unmap(), dst.Unmap()

	// Address family: from the addresses, else from the IP header. An
	// IPv4-mapped IPv6 address (::ffff:a.b.c.d) in Addrs is IPv6 (16 bytes
	// on the wire); the header addresses are unmapped, as a dual-stack
	// socket reports IPv4 peers that way.
	v6 := src.Is6()
	if len(a.Addrs) > 0 {
		first := a.Addrs[0]
		if !first.IsValid() {
			return b, errors.New("vrrp: marshal: address 0 is invalid")
		}
		v6 = first.Is6()
	}
	for i, ad := range a.Addrs {
		if !ad.IsValid() {
			return b, fmt.Errorf("vrrp: marshal: address %d is invalid", i)
		}
		if ad.Is6() != v6 {
			return b, fmt.Errorf("vrrp: marshal: mixed address families (address %d is %v)", i, ad)
		}
	}

	var intvl uint16
	switch a.Version {
	case 2:
		if v6 {
			return b, errors.New("vrrp: marshal: VRRPv2 does not support IPv6")
		}
		for _, ip := range [2]netip.Addr{src, dst} {
			if ip.IsValid() && !ip.Is4() {
				return b, fmt.Errorf("vrrp: marshal: VRRPv2 with IPv6 header address %v", ip)
			}
		}
		if a.AuthType > AuthAH {
			return b, fmt.Errorf("vrrp: marshal: auth type %d, want 0, 1 or 2", a.AuthType)
		}
		if a.Interval < time.Second || a.Interval > MaxIntervalV2 || a.Interval%time.Second != 0 {
			return b, fmt.Errorf("vrrp: marshal: VRRPv2 interval %v: want a whole number of seconds in 1s..255s", a.Interval)
		}
		intvl = uint16(a.Interval / time.Second)
	case 3:
		if a.AuthType != AuthNone || a.AuthData != [AuthDataLen]byte{} {
			return b, errors.New("vrrp: marshal: VRRPv3 has no authentication")
		}
		if !src.IsValid() || !dst.IsValid() {
			return b, errors.New("vrrp: marshal: VRRPv3 needs valid source and destination addresses")
		}
		if src.Is6() != v6 || dst.Is6() != v6 {
			return b, fmt.Errorf("vrrp: marshal: IP header %v -> %v does not match the address family of the advert", src, dst)
		}
		const cs = 10 * time.Millisecond
		if a.Interval < cs || a.Interval > MaxIntervalV3 || a.Interval%cs != 0 {
			return b, fmt.Errorf("vrrp: marshal: VRRPv3 interval %v: want a whole number of centiseconds in 10ms..40.95s", a.Interval)
		}
		intvl = uint16(a.Interval / cs)
	}

	start := len(b)
	b = append(b, a.Version<<4|typ, a.VRID, a.Priority, uint8(len(a.Addrs)))
	if a.Version == 2 {
		b = append(b, a.AuthType, uint8(intvl))
	} else {
		b = binary.BigEndian.AppendUint16(b, intvl) // 4 reserved bits are zero
	}
	b = append(b, 0, 0)
	for _, ad := range a.Addrs {
		if v6 {
			a16 := ad.As16()
			b = append(b, a16[:]...)
		} else {
			a4 := ad.As4()
			b = append(b, a4[:]...)
		}
	}
	if a.Version == 2 {
		b = append(b, a.AuthData[:]...)
	}
	msg := b[start:]
	binary.BigEndian.PutUint16(msg[6:], checksum(msg, a.Version, src, dst, mode))
	return b, nil
}

// Parse decodes and validates one VRRP message b (the exact IP payload).
// src and dst are the IP header's addresses; they give the address family
// and, for VRRPv3, the pseudo-header. For VRRPv2 over IPv4 they may be the
// zero Addr. Invalid arguments (unknown mode, header addresses of mixed
// families, VRRPv3 without both addresses) give a plain error, not a
// *DropError: they are the caller's bug, not the sender's.
//
// Parse checks, in this order (each failure is a *DropError):
//
//	packet_len_err      shorter than 8 bytes
//	version_err         version not 2 or 3, or v2 with an IPv6 header
//	packet_len_err      length != 8 + count×(4|16) (+8 for v2); trailing bytes included
//	checksum_err        checksum (per version, family and mode; see package doc)
//	invalid_type_rcvd   type != 1
//	invalid_authtype    v2 auth type not 0, 1, 2
//	advert_interval_err interval 0 (keepalived 2.2.7 accepts a v3 interval of 0
//	                    and then flaps: its master-down timer becomes 0)
//	vrid_unknown        VRID 0
//
// The v3 reserved bits are ignored, as RFC 5798 requires. Checks that need
// the instance's configuration (TTL, configured version, VRID lookup, auth
// type and password, v2 interval equality, address list) are the caller's;
// CheckTTL and Advert.CheckAuth help.
func Parse(b []byte, src, dst netip.Addr, mode ChecksumMode) (Advert, error) {
	return ParseInto(b, src, dst, mode, nil)
}

// ParseInto is Parse with the addresses appended to addrs[:0], so that a
// caller that reads many adverts gives them a buffer of its own (on its
// stack) instead of one allocated per advert.
func ParseInto(b []byte, src, dst netip.Addr, mode ChecksumMode, addrs []netip.Addr) (Advert, error) {
	var a Advert
	if len(b) < headerLen {
		return a, drop(DropPacketLen, "vrrp packet too short, length %d and expect at least %d", len(b), headerLen)
	}
	if mode != ChecksumV3Pseudo && mode != ChecksumV2Style {
		return a, fmt.Errorf("vrrp: parse: unknown checksum mode %d", int(mode))
	}
	src, dst = src.Unmap(), dst.Unmap()
	if src.IsValid() && dst.IsValid() && src.Is6() != dst.Is6() {
		return a, fmt.Errorf("vrrp: parse: mixed IP header families %v -> %v", src, dst)
	}
	v6 := src.Is6() || dst.Is6()

	a.Version = b[0] >> 4
	switch a.Version {
	case 2:
		if v6 {
			return a, drop(DropVersion, "VRRPv2 over IPv6")
		}
	case 3:
		if !src.IsValid() || !dst.IsValid() {
			return a, errors.New("vrrp: parse: VRRPv3 needs valid source and destination addresses")
		}
	default:
		return a, drop(DropVersion, "wrong version. Received %d and expect 2 or 3", a.Version)
	}

	n := int(b[3])
	alen := 4
	if v6 {
		alen = 16
	}
	want := headerLen + n*alen
	if a.Version == 2 {
		want += AuthDataLen
	}
	if len(b) != want {
		how := "short"
		if len(b) > want {
			how = "long"
		}
		return a, drop(DropPacketLen, "vrrp packet too %s, length %d and expect %d", how, len(b), want)
	}

	a.Checksum = binary.BigEndian.Uint16(b[6:])
	if !checksumOK(b, a.Version, src, dst, mode) {
		return a, drop(DropChecksum, "invalid VRRPv%d checksum 0x%04x (%v)", a.Version, a.Checksum, mode)
	}

	a.Type = b[0] & 0x0f
	if a.Type != TypeAdvertisement {
		return a, drop(DropInvalidType, "invalid packet type. %d and expect %d", a.Type, TypeAdvertisement)
	}
	a.VRID = b[1]
	a.Priority = b[2]
	if a.Version == 2 {
		a.AuthType = b[4]
		if a.AuthType > AuthAH {
			return a, drop(DropInvalidAuthType, "received a %d auth, expecting 0, 1 or 2", a.AuthType)
		}
		a.Interval = time.Duration(b[5]) * time.Second
		copy(a.AuthData[:], b[want-AuthDataLen:])
	} else {
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0x0fff) * 10 * time.Millisecond
	}
	if a.Interval == 0 {
		return a, drop(DropAdvertInterval, "advertisement interval 0")
	}
	if a.VRID == 0 {
		return a, drop(DropVRIDUnknown, "VRID 0")
	}

	if n > 0 {
		a.Addrs = slices.Grow(addrs[:0], n)
		p := b[headerLen:]
		for i := range n {
			if v6 {
				a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte(p[i*16:])))
			} else {
				a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte(p[i*4:])))
			}
		}
	}
	return a, nil
}

// CheckTTL returns a DropTTL error unless ttl (IPv4 TTL / IPv6 hop limit)
// is 255. Multicast adverts must pass it (RFC 3768 §7.1, RFC 5798 §7.1);
// keepalived skips it for unicast and applies the per-peer min_ttl/max_ttl
// range instead.
func CheckTTL(ttl uint8) error {
	if ttl != TTL {
		return drop(DropTTL, "invalid TTL/HL. Received %d and expect %d", ttl, TTL)
	}
	return nil
}

// CheckAuth applies the VRRPv2 authentication checks for an instance
// configured with authType and password (at most 8 bytes, zero-padded as
// keepalived does). It returns DropAuthTypeMismatch or DropAuthFailure
// errors. For AuthAH it only checks the type: the AH header is verified by
// the caller. VRRPv3 adverts always pass.
func (a *Advert) CheckAuth(authType uint8, password []byte) error {
	if a.Version != 2 {
		return nil
	}
	if a.AuthType != authType {
		return drop(DropAuthTypeMismatch, "received a %d auth, expecting %d", a.AuthType, authType)
	}
	if authType == AuthPass {
		var want [AuthDataLen]byte
		copy(want[:], password)
		if a.AuthData != want {
			return drop(DropAuthFailure, "received an invalid passwd")
		}
	}
	return nil
}

// checksum computes the checksum of msg (whose checksum field, bytes 6-7,
// is treated as zero).
func checksum(msg []byte, version uint8, src, dst netip.Addr, mode ChecksumMode) uint16 {
	s := pseudoSum(len(msg), version, src, dst, mode)
	s = sum16(msg[:6], s)
	s = sum16(msg[8:], s)
	return ^fold(s)
}

// checksumOK verifies the checksum of msg including its checksum field. Like
// the kernel and keepalived's in_csum it accepts both encodings of zero
// (0x0000 and 0xffff).
func checksumOK(msg []byte, version uint8, src, dst netip.Addr, mode ChecksumMode) bool {
	s := pseudoSum(len(msg), version, src, dst, mode)
	return fold(sum16(msg, s)) == 0xffff
}

// pseudoSum returns the (unfolded) sum of the pseudo-header, or 0 when the
// checksum covers the message only.
func pseudoSum(n int, version uint8, src, dst netip.Addr, mode ChecksumMode) uint32 {
	if version != 3 || !src.IsValid() || !dst.IsValid() || src.Is6() != dst.Is6() {
		return 0 // invalid or mixed addresses: rejected by Parse/Marshal before this
	}
	var s uint32
	if src.Is6() {
		// RFC 8200 §8.1: src, dst, 32-bit length, 3 zero bytes, next header.
		s16, d16 := src.As16(), dst.As16()
		s = sum16(s16[:], s)
		s = sum16(d16[:], s)
		s += uint32(n>>16) + uint32(n&0xffff) + IPProto
		return s
	}
	if mode == ChecksumV2Style {
		return 0
	}
	// IPv4 pseudo-header: src, dst, zero, protocol, 16-bit length.
	s4, d4 := src.As4(), dst.As4()
	s = sum16(s4[:], s)
	s = sum16(d4[:], s)
	s += IPProto + uint32(n&0xffff)
	return s
}

// sum16 adds b as big-endian 16-bit words (odd length padded with a zero
// byte) to s. VRRP messages are at most 8+255*16+8 bytes, far from
// overflowing 32 bits.
func sum16(b []byte, s uint32) uint32 {
	for len(b) >= 8 {
		s += uint32(binary.BigEndian.Uint16(b)) + uint32(binary.BigEndian.Uint16(b[2:])) +
			uint32(binary.BigEndian.Uint16(b[4:])) + uint32(binary.BigEndian.Uint16(b[6:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
