package config

// global_defs's IPVS keywords, read as keepalived 2.2.7's global_parser.c
// reads them (lvs_timeouts, lvs_flush_on_stop_handler, lvs_syncd_handler):
// the values, and keepalived's messages for what is wrong, which -t
// reports (gdLVS) and the runtime (internal/lvs/ipvs) does not repeat.

import (
	"fmt"
	"net/netip"
)

// lvsMaxTimeout is LVS_MAX_TIMEOUT (global_data.h): 31 days.
const lvsMaxTimeout = 86400 * 31

// LVSTimeouts are lvs_timeouts's values in seconds, 0 where not given.
type LVSTimeouts struct{ TCP, TCPFin, UDP uint32 }

// ParseLVSTimeouts reads lvs_timeouts's words ("tcp 7200 tcpfin 120 udp
// 300"); a wrong value is left out with keepalived's messages.
func ParseLVSTimeouts(words []string) (LVSTimeouts, []string) {
	var t LVSTimeouts
	if len(words) < 2 {
		return t, []string{"lvs_timeouts requires at least one option"}
	}
	var msgs []string
	for i := 0; i < len(words); i++ {
		var field *uint32
		switch words[i] {
		case "tcp":
			field = &t.TCP
		case "tcpfin":
			field = &t.TCPFin
		case "udp":
			field = &t.UDP
		default:
			msgs = append(msgs, fmt.Sprintf("Unknown option %s specified for lvs_timeouts", words[i]))
			continue
		}
		if i == len(words)-1 {
			msgs = append(msgs, fmt.Sprintf("No value specified for lvs_timeout %s - ignoring", words[i]))
			continue
		}
		if v, m := gdCheckInt(words[i+1], 0, lvsMaxTimeout, true); m != "" {
			msgs = append(msgs, m, fmt.Sprintf("Invalid lvs_timeout %s (%s) - ignoring", words[i], words[i+1]))
		} else {
			*field = uint32(v)
		}
		i++
	}
	return t, msgs
}

// LVSFlushOnStop is lvs_flush_on_stop.
type LVSFlushOnStop int

const (
	LVSNoFlush   LVSFlushOnStop = iota // not set, or a type keepalived does not know
	LVSFlushFull                       // lvs_flush_on_stop
	LVSFlushVS                         // lvs_flush_on_stop VS
)

// ParseLVSFlushOnStop reads lvs_flush_on_stop's words.
func ParseLVSFlushOnStop(words []string) (LVSFlushOnStop, []string) {
	switch {
	case len(words) == 0:
		return LVSFlushFull, nil
	case words[0] == "VS":
		return LVSFlushVS, nil
	}
	return LVSNoFlush, []string{"Unknown lvs_flush_on_stop type " + words[0]}
}

// LVSSyncDaemon is lvs_sync_daemon.
type LVSSyncDaemon struct {
	Interface string
	// Instance is the VRRP instance it follows, "" for none.
	Instance string
	// SyncID is `id`, when SyncIDSet (else the instance's
	// virtual_router_id, or 0).
	SyncID    uint32
	SyncIDSet bool
	MaxLen    uint16
	Port      uint16
	TTL       uint8
	Group     netip.Addr // invalid: the kernel's default
}

// ParseLVSSyncDaemon reads lvs_sync_daemon's words (`INTERFACE [inst]
// VRRP_INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]`, and the
// older `INTERFACE VRRP_INSTANCE [SYNC_ID]`); ok is false when it is
// ignored whole.
func ParseLVSSyncDaemon(words []string) (c LVSSyncDaemon, msgs []string, ok bool) {
	if len(words) == 0 {
		return c, []string{"lvs_sync_daemon requires interface"}, false
	}
	if len(words[0]) >= 16 { // IP_VS_IFNAME_MAXLEN
		return c, []string{fmt.Sprintf("lvs_sync_daemon interface name '%s' too long - ignoring", words[0])}, false
	}
	c.Interface = words[0]
	num := func(s string, lo, hi int64) (uint64, bool) {
		v, m := gdCheckInt(s, lo, hi, true)
		if m != "" {
			msgs = append(msgs, m)
			return 0, false
		}
		return uint64(v), true
	}
	// i counts as keepalived's strvec does, the keyword being 0: words[i-1].
	for i := 2; i <= len(words); i++ {
		w := words[i-1]
		last := i == len(words)
		switch w {
		case "inst":
			if c.Instance != "" {
				msgs = append(msgs, "lvs_sync_daemon vrrp instance has already been specified as "+c.Instance+" - ignoring")
			} else if !last {
				c.Instance = words[i]
			}
			i++
			continue
		case "id":
			if last {
				msgs = append(msgs, "No value specified for lvs_sync_daemon id, defaulting to vrid")
				continue
			}
			if v, good := num(words[i], 0, 255); good {
				c.SyncID, c.SyncIDSet = uint32(v), true
			} else {
				msgs = append(msgs, fmt.Sprintf("Invalid syncid (%s) - defaulting to vrid", words[i]))
			}
			i++
			continue
		case "maxlen", "port", "ttl":
			if last {
				msgs = append(msgs, fmt.Sprintf("No value specified for lvs_sync_daemon %s - ignoring", w))
				continue
			}
			hi := map[string]int64{"maxlen": 65535 - 20 - 8, "port": 65535, "ttl": 255}[w]
			v, good := num(words[i], 1, hi)
			switch {
			case !good:
				msgs = append(msgs, fmt.Sprintf("Invalid lvs_sync_daemon %s (%s) - ignoring", w, words[i]))
			case w == "maxlen":
				c.MaxLen = uint16(v)
			case w == "port":
				c.Port = uint16(v)
			default:
				c.TTL = uint8(v)
			}
			i++
			continue
		case "group":
			if last {
				msgs = append(msgs, "No value specified for lvs_sync_daemon group - ignoring")
				continue
			}
			a, err := netip.ParseAddr(words[i])
			switch {
			case err != nil:
				msgs = append(msgs, fmt.Sprintf("Invalid lvs_sync_daemon group (%s) - ignoring", words[i]))
			case !a.IsMulticast():
				msgs = append(msgs, fmt.Sprintf("lvs_sync_daemon group address %s is not multicast - ignoring", words[i]))
			default:
				c.Group = a
			}
			i++
			continue
		}
		switch i {
		case 2: // the older form: INTERFACE VRRP_INSTANCE [SYNC_ID]
			c.Instance = w
		case 3:
			if v, good := num(w, 0, 255); good {
				msgs = append(msgs, `Please use keyword "id" before lvs_sync_daemon SYNCID`)
				c.SyncID, c.SyncIDSet = uint32(v), true
			} else {
				msgs = append(msgs, fmt.Sprintf("Invalid syncid (%s) - defaulting to vrid", w))
			}
		default:
			msgs = append(msgs, fmt.Sprintf("Unknown option %s specified for lvs_sync_daemon", w))
		}
	}
	return c, msgs, true
}

// gdLVS reports what keepalived says of global_defs's IPVS keywords
// (lvs_sync_daemon without words is the parser's "requires interface").
func (v *validator) gdLVS(g *GlobalDefs) {
	report := func(kw string, msgs []string) {
		for _, m := range msgs {
			v.at(g.PosOf(kw), ExitConfigErrors, kw, "%s", m)
		}
	}
	if g.IsSet("lvs_timeouts") {
		_, msgs := ParseLVSTimeouts(g.LVSTimeouts)
		report("lvs_timeouts", msgs)
	}
	if g.IsSet("lvs_flush_on_stop") {
		_, msgs := ParseLVSFlushOnStop(g.LVSFlushOnStop)
		report("lvs_flush_on_stop", msgs)
	}
	if g.IsSet("lvs_sync_daemon") && len(g.LVSSyncDaemon) > 0 {
		_, msgs, _ := ParseLVSSyncDaemon(g.LVSSyncDaemon)
		report("lvs_sync_daemon", msgs)
	}
}
