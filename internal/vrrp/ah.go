package vrrp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/netip"
)

// VRRPv2 with IPsec AH authentication (auth_type AH), as keepalived
// implements it: RFC 2338's Authentication Header between the IPv4 header
// and the VRRP message, keyed with the 8-byte zero-padded auth_pass, no
// security association.
//
//	IPv4 header, protocol 51 (20 bytes, no options when sent)
//	|  Next Header  |  Payload Len  |           Reserved            |
//	|             Security Parameters Index (SPI)                   |
//	|                    Sequence Number                            |
//	|        Integrity Check Value (HMAC-MD5-96, 12 bytes)          |
//	VRRPv2 message, Auth Type 2, Authentication Data zero
//
// keepalived's choices, followed here (keepalived/vrrp/vrrp.c,
// keepalived/include/vrrp_ipsecah.h):
//   - Next Header 112, Payload Len 4 (IPSEC_AH_PLEN), the SPI is the
//     sender's IPv4 source address (vrrp_build_ipsecah).
//   - The ICV is HMAC-MD5 (RFC 2104, keepalived's hmac_md5) truncated to 96
//     bits, over the IPv4 header with TOS, fragment offset and header
//     checksum zeroed (and the TTL too for a unicast instance), then the AH
//     header with a zero ICV, then the VRRP message (vrrp_update_pkt,
//     vrrp_in_chk_ipsecah). The IP identification and total length are
//     covered: the sender builds its own IP header (IP_HDRINCL).
//   - keepalived sends TOS 0xc0 (network control), fragment offset 0 and
//     a header checksum of 0 for the kernel to fill in (vrrp_build_ip4).

// IPProtoAH is the IP protocol number of the Authentication Header.
const IPProtoAH = 51

// AHLen is the length of keepalived's AH header (ipsec_ah_t).
const AHLen = 24

const (
	ahICVLen     = 12 // HMAC_MD5_TRUNC
	ahPayloadLen = 4  // IPSEC_AH_PLEN: (12 + 12) / 4 - 2
	ipv4HdrLen   = 20
	tosNetCtrl   = 0xc0
)

// AH is an IPsec Authentication Header as keepalived sends it.
type AH struct {
	NextHeader uint8
	PayloadLen uint8
	// SPI as on the wire: keepalived puts the sender's IPv4 address there.
	SPI [4]byte
	// Seq is the sequence number (anti-replay).
	Seq uint32
	// ICV is the truncated HMAC-MD5.
	ICV [ahICVLen]byte
}

// AHPacket is an IPv4 packet that carries an AH header, as ParseAH splits
// it. Message aliases the packet.
type AHPacket struct {
	IHL      int // IPv4 header length in bytes
	TTL      uint8
	Src, Dst netip.Addr
	AH       AH
	// Message is the VRRP message after the AH header (up to the IP total
	// length).
	Message []byte
}

// AHHeader holds what MarshalAH needs for the IPv4 header and the AH
// header; the caller keeps the counters (keepalived's ip_id and
// ipsecah_counter).
type AHHeader struct {
	Src, Dst netip.Addr // IPv4
	ID       uint16     // IP identification; keepalived never sends 0
	TTL      uint8
	Seq      uint32
	// Unicast zeroes the TTL in the ICV, as keepalived does for unicast
	// instances (routers in between may lower it).
	Unicast bool
}

// AHKey is the HMAC key: auth_pass zero-padded (or cut) to 8 bytes, as
// keepalived stores it (vrrp->auth_data).
func AHKey(password []byte) [AuthDataLen]byte {
	var k [AuthDataLen]byte
	copy(k[:], password)
	return k
}

// AHMAC is the HMAC-MD5 of one key with its scratch space, reused so that
// AppendMarshalAH and VerifyAH do not allocate. It is not safe for
// concurrent use.
type AHMAC struct {
	h   hash.Hash
	hdr [60 + AHLen]byte // the largest IPv4 header, and AH
	sum [md5.Size]byte
}

// NewAHMAC returns the HMAC-MD5 for key (AHKey's).
func NewAHMAC(key [AuthDataLen]byte) *AHMAC { return &AHMAC{h: hmac.New(md5.New, key[:])} }

// AppendMarshalAH appends the whole IPv4 packet for a VRRPv2 advert with AH
// authentication: IPv4 header, AH header with its ICV, and the VRRP
// message (Auth Type 2, zero Authentication Data). mac is NewAHMAC's.
func (a *Advert) AppendMarshalAH(b []byte, h AHHeader, mac *AHMAC) ([]byte, error) {
	src, dst := h.Src.Unmap(), h.Dst.Unmap()
	if !src.Is4() || !dst.Is4() {
		return b, fmt.Errorf("vrrp: marshal AH: IPv4 source and destination needed, got %v -> %v", h.Src, h.Dst)
	}
	if a.Version != 2 {
		return b, errors.New("vrrp: marshal AH: AH authentication is VRRPv2 only")
	}
	adv := *a
	adv.AuthType, adv.AuthData = AuthAH, [AuthDataLen]byte{}
	start := len(b)
	b = append(b, make([]byte, ipv4HdrLen+AHLen)...)
	var err error
	if b, err = adv.AppendMarshal(b, src, dst, ChecksumV3Pseudo); err != nil {
		return b[:start], err
	}
	pkt := b[start:]
	ip := pkt[:ipv4HdrLen]
	ip[0] = 0x45
	ip[1] = tosNetCtrl
	binary.BigEndian.PutUint16(ip[2:], uint16(len(pkt)))
	binary.BigEndian.PutUint16(ip[4:], h.ID)
	// ip[6:8] fragment offset 0 (no DF), as keepalived sends it.
	ip[8] = h.TTL
	ip[9] = IPProtoAH
	// ip[10:12] header checksum: left 0 for the kernel (IP_HDRINCL fills it).
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	ah := pkt[ipv4HdrLen : ipv4HdrLen+AHLen]
	ah[0] = IPProto
	ah[1] = ahPayloadLen
	copy(ah[4:], s4[:]) // SPI: the source address
	binary.BigEndian.PutUint32(ah[8:], h.Seq)
	copy(ah[12:], mac.icv(pkt, ipv4HdrLen, h.Unicast))
	return b, nil
}

// icv computes the truncated HMAC of pkt (IPv4 header of ihl bytes, AH
// header, message) with the mutable IP fields and the ICV taken as zero.
// pkt itself is not changed; the result is valid until the next call.
func (mac *AHMAC) icv(pkt []byte, ihl int, unicast bool) []byte {
	hdr := &mac.hdr
	n := copy(hdr[:], pkt[:ihl+AHLen])
	hdr[1] = 0              // TOS
	hdr[6], hdr[7] = 0, 0   // flags and fragment offset
	hdr[10], hdr[11] = 0, 0 // header checksum
	if unicast {
		hdr[8] = 0 // TTL
	}
	clear(hdr[ihl+12 : ihl+AHLen])
	mac.h.Reset()
	mac.h.Write(hdr[:n])
	mac.h.Write(pkt[ihl+AHLen:])
	return mac.h.Sum(mac.sum[:0])[:ahICVLen]
}

// ParseAH splits an IPv4 packet with protocol 51 (the raw socket delivers
// the IP header) into its AH header and the message behind it. A packet
// too short for the IPv4 header, the AH header and a VRRP header is a
// DropPacketLen (keepalived's "IPv4 VRRP packet with AH too short",
// vrrp_get_header); anything that is not IPv4 AH at all is a plain error.
func ParseAH(pkt []byte) (AHPacket, error) {
	var p AHPacket
	if len(pkt) < ipv4HdrLen || pkt[0]>>4 != 4 {
		return p, errors.New("vrrp: parse AH: not an IPv4 packet")
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:]))
	if ihl < ipv4HdrLen || total < ihl || total > len(pkt) {
		return p, errors.New("vrrp: parse AH: malformed IPv4 header")
	}
	if pkt[9] != IPProtoAH {
		return p, fmt.Errorf("vrrp: parse AH: IP protocol %d, not AH", pkt[9])
	}
	if total < ihl+AHLen+headerLen {
		return p, drop(DropPacketLen, "IPv4 VRRP packet with AH too short - %d bytes", total)
	}
	p.IHL = ihl
	p.TTL = pkt[8]
	p.Src = netip.AddrFrom4([4]byte(pkt[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(pkt[16:20]))
	ah := pkt[ihl : ihl+AHLen]
	p.AH.NextHeader = ah[0]
	p.AH.PayloadLen = ah[1]
	p.AH.SPI = [4]byte(ah[4:8])
	p.AH.Seq = binary.BigEndian.Uint32(ah[8:])
	p.AH.ICV = [ahICVLen]byte(ah[12:])
	p.Message = pkt[ihl+AHLen : total]
	return p, nil
}

// VerifyAH checks the ICV of pkt, a packet ParseAH split into p, with mac
// (NewAHMAC's). unicast must be the receiving instance's: a unicast
// instance leaves the TTL out of the ICV. It returns false for a bad
// digest: a wrong password, or a packet changed on the way. It does not
// allocate.
func VerifyAH(pkt []byte, p *AHPacket, mac *AHMAC, unicast bool) bool {
	total := p.IHL + AHLen + len(p.Message)
	if p.IHL < ipv4HdrLen || p.IHL > 60 || total > len(pkt) {
		return false
	}
	return subtle.ConstantTimeCompare(mac.icv(pkt[:total], p.IHL, unicast), p.AH.ICV[:]) == 1
}
