package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// ahState is one instance's IPsec-AH state, as keepalived keeps it in its
// vrrp_t: the key's HMAC, the IP identification of the packets it sends
// (ip_id) and the anti-replay counter (ipsecah_counter), which serves
// both directions: an accepted advert raises it to the advert's sequence
// number, and each advert sent carries it plus one. A restarted router
// starts again from 0; a reload keeps it (InheritStats).
type ahState struct {
	mu       sync.Mutex
	mac      *AHMAC
	seq      uint32 // ipsecah_counter.seq_number
	cycle    bool   // ipsecah_counter.cycle: the counter reached its end
	ipID     uint16
	lastRcvd uint32 // the sequence number of the last advert accepted
	ttl      uint8
	unicast  bool
}

// errAHOtherProtocol: an AH packet that protects something other than
// VRRP; keepalived ignores it without counting it (VRRP_PACKET_DROP).
var errAHOtherProtocol = errors.New("vrrp: AH header for another protocol")

func newAHState(cfg *InstanceConfig) *ahState {
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = TTL
	}
	return &ahState{mac: NewAHMAC(AHKey(cfg.AuthPass)), ttl: ttl, unicast: len(cfg.Peers) > 0}
}

// nextSeq is the sequence number and IP identification of the next advert
// (vrrp.c vrrp_update_pkt): both go up by one per advert, the same for
// every unicast peer; the counter stops below 2^32-2 and is marked cycled
// (keepalived then resets it when it next becomes master). The
// identification skips 0, which would make the kernel choose one.
func (a *ahState) nextSeq() (seq uint32, id uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seq > 0xFFFFFFFD {
		a.cycle = true
	} else {
		a.seq++
	}
	if a.ipID++; a.ipID == 0 {
		a.ipID++
	}
	return a.seq, a.ipID
}

// sendAdvertAH sends adv as whole IPv4 packets with AH, one per
// destination (the destination is under the ICV). Called with in.mu held.
func (in *Instance) sendAdvertAH(adv *Advert, priority int) {
	a := in.ah
	seq, id := a.nextSeq()
	for _, dst := range in.dsts {
		a.mu.Lock()
		var err error
		in.buf, err = adv.AppendMarshalAH(in.buf[:0], AHHeader{Src: in.cfg.Source, Dst: dst, ID: id, TTL: a.ttl, Seq: seq, Unicast: a.unicast}, a.mac)
		a.mu.Unlock()
		if err == nil {
			err = in.net.SendAdvert(in.buf, dst)
		}
		in.countSent(dst, priority, err)
	}
}

// checkAH is keepalived's vrrp_in_chk_ipsecah (vrrp.c), after the auth type
// checks: the ICV with our key, the SPI against the source address, then
// the sequence number against the counter. Each failure is logged in
// keepalived's words and counted as an authentication failure.
func (in *Instance) checkAH(pkt []byte, p *AHPacket, adv *Advert) error {
	if p.AH.NextHeader != IPProto {
		return errAHOtherProtocol
	}
	a := in.ah
	a.mu.Lock()
	defer a.mu.Unlock()
	if !VerifyAH(pkt, p, a.mac, a.unicast) {
		in.cfg.Log.Info(fmt.Sprintf("(%s) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !", in.cfg.Name))
		return drop(DropAuthFailure, "invalid IPSEC HMAC-MD5 value from %s", p.Src)
	}
	if src := p.Src.As4(); p.AH.SPI != src {
		// keepalived prints both as the host's 32-bit reading of the
		// network-order bytes.
		in.cfg.Log.Info(fmt.Sprintf("IPSEC AH : invalid IPSEC SPI value. %d and expect %d",
			binary.NativeEndian.Uint32(src[:]), binary.NativeEndian.Uint32(p.AH.SPI[:])))
		return drop(DropAuthFailure, "AH SPI %v is not the source address %s", netip.AddrFrom4(p.AH.SPI), p.Src)
	}
	if p.AH.Seq <= a.seq {
		in.cfg.Log.Info(fmt.Sprintf("(%s) IPSEC-AH : sequence number %d already processed. Packet dropped. Local(%d)", in.cfg.Name, p.AH.Seq, a.seq))
		return drop(DropAuthFailure, "AH sequence number %d, already at %d", p.AH.Seq, a.seq)
	}
	a.seq, a.lastRcvd = p.AH.Seq, p.AH.Seq
	// keepalived clears the cycle mark on every advert it accepts, but a
	// master's on a priority-0 one (vrrp_check_packet, vrrp_state_master_rx).
	if adv.Priority != 0 || in.State() != Master {
		a.cycle = false
	}
	return nil
}

// ahSyncLowerPriority: a master that hears a lower priority takes the
// sender's sequence number plus one as its own counter before answering,
// as keepalived's vrrp_state_master_rx does ("Syncing seq_num").
func (in *Instance) ahSyncLowerPriority() {
	a := in.ah
	a.mu.Lock()
	a.seq, a.cycle = a.lastRcvd+1, false
	a.mu.Unlock()
	in.cfg.Log.Info(fmt.Sprintf("(%s) IPSEC-AH : Syncing seq_num - Increment seq", in.cfg.Name))
}

// ahBecomeMaster resets a cycled counter (vrrp.c vrrp_state_goto_master).
func (in *Instance) ahBecomeMaster() {
	a := in.ah
	a.mu.Lock()
	if a.cycle {
		a.cycle, a.seq = false, 0
	}
	a.mu.Unlock()
}

// inheritAH carries the counters over a reload, as keepalived's
// vrrp_state_copy ("Keep ipsec AH seq_number") and the IP identification
// with them, so that peers do not take the next adverts for replays.
func (in *Instance) inheritAH(prev *Instance) {
	if in.ah == nil || prev.ah == nil {
		return
	}
	prev.ah.mu.Lock()
	seq, cycle, id, last := prev.ah.seq, prev.ah.cycle, prev.ah.ipID, prev.ah.lastRcvd
	prev.ah.mu.Unlock()
	in.ah.mu.Lock()
	in.ah.seq, in.ah.cycle, in.ah.ipID, in.ah.lastRcvd = seq, cycle, id, last
	in.ah.mu.Unlock()
}

// AHSeq is the instance's IPsec-AH sequence counter (0 without AH).
func (in *Instance) AHSeq() uint32 {
	if in.ah == nil {
		return 0
	}
	in.ah.mu.Lock()
	defer in.ah.mu.Unlock()
	return in.ah.seq
}
