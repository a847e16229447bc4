package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// keepalived.json is keepalived's state dump (signal SIGRTMIN+2, written
// by vrrp_json.c): an array with one {"data": {...}, "stats": {...}}
// object per instance, with keepalived 2.2.7's keys in its order, so that
// exporters that read it (mehdy/keepalived-exporter --ka.json,
// gen2brain/keepalived_exporter) work unchanged. It has no virtual-server
// part: keepalived writes it from the VRRP process only (vrrp_json.c,
// vrrp_print_json), and its checker process (check/) writes no JSON, in
// 2.2.7 as today; the LVS counters are in /metrics and /status/lvs.
//
// Deliberate differences from keepalived 2.2.7, checked against its dump:
//   - master_priority is always 0 (keepalived's initial value): we do not
//     keep the priority of the master a backup hears.
//   - wantstate is always state: our transitions are immediate.
//   - Only instances that run are listed; keepalived also lists those it
//     keeps in FAULT because their interface is missing.
//   - Scripts (script_*, track_script) print their words as configured,
//     each quoted as keepalived does; keepalived prints the path after
//     resolving symbolic links (/bin/true becomes /usr/bin/true).
//   - vroutes and vrules print the configuration line's words; keepalived
//     prints its normalised form ("prepend ... via inet ... proto 18",
//     "... priority 16384 tos 0x0 protocol 18 lookup 100").
//   - vips and evips print address, brd, dev (with @parent on a VMAC),
//     scope, label, IPv6 preferred_lft and "set"; keepalived's other flags
//     (peer, home, -nodad, no_track, nftable_set, ...) are left out.
//   - higher_prio_send_advert is 1 by default: keepalived-go turns it on.
//   - Fields of keywords keepalived-go does not act on show keepalived's
//     default (the daemon fills KeepalivedExtra accordingly): smtp_alert
//     false, promote_secondaries false, ...
//   - "/" in strings is escaped as "\/", as keepalived does; other escapes
//     follow encoding/json (keepalived writes a backslash as "\n", a bug
//     not copied).

// KeepalivedExtra is what keepalived.json shows of an instance that the
// vrrp package does not hold: configuration only the daemon reads. Its
// zero value is keepalived's default for an instance without the
// keywords.
type KeepalivedExtra struct {
	DontTrackPrimary, SkipCheckAdvAddr, StrictMode bool
	// UseVMAC: the instance runs on a VMAC (its Interface); Parent is the
	// configured interface, the VMAC's parent.
	UseVMAC            bool
	Parent             string
	NoAccept           bool // the master drops traffic to its VIPs (Accept_Mode off)
	PromoteSecondaries bool
	SMTPAlert          bool
	NotifyDeleted      bool
	// Scripts, in keepalived's cmd_str form (see ScriptString); "" when
	// absent.
	ScriptBackup, ScriptMaster, ScriptFault, ScriptStop string
	ScriptDeleted, Script, ScriptMasterRxLowerPri       string

	VRoutes, VRules []string // the configuration lines
	TrackInterfaces []string
	TrackScripts    []string // the scripts' commands, as keepalived prints them
	AuthPass        string   // VRRPv2 PASS password, as keepalived prints it

	// For keepalived.data only (see kadata.go).
	SyncGroup       string   // the vrrp_sync_group the instance is in
	SourceIP        string   // mcast_src_ip/unicast_src_ip, "" when not configured
	UnicastPeers    []string // "ADDR min_ttl N max_ttl M", as dump_unicast_peer
	CheckUnicastSrc bool
	// TrackScriptWeights: "NAME weight W[ reverse]", as dump_track_script.
	TrackScriptWeights []string
	ScriptUIDGID       string // the notify scripts' "uid:gid"
}

// ScriptString prints a script's words as keepalived's cmd_str: each word
// in single quotes, except a first word that is a redirection.
func ScriptString(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		if i == 0 && (strings.HasPrefix(w, "<") || strings.HasPrefix(w, ">")) {
			q[i] = w
			continue
		}
		q[i] = "'" + w + "'"
	}
	return strings.Join(q, " ")
}

// kaInstance is one element of keepalived.json.
type kaInstance struct {
	Data  kaData  `json:"data"`
	Stats kaStats `json:"stats"`
}

// kaData is vrrp_json_data_dump's object, field for field in its order.
// keepalived prints its flags as 0/1 numbers (uint) or as booleans; the
// types follow it.
type kaData struct {
	IName                  string   `json:"iname"`
	DontTrackPrimary       int      `json:"dont_track_primary"`
	SkipCheckAdvAddr       int      `json:"skip_check_adv_addr"`
	StrictMode             int      `json:"strict_mode"`
	VMACIfname             string   `json:"vmac_ifname"`
	IfpIfname              string   `json:"ifp_ifname,omitempty"`
	MasterPriority         int      `json:"master_priority"`
	LastTransition         fixed6   `json:"last_transition"`
	GarpDelay              float64  `json:"garp_delay"`
	GarpRefresh            int64    `json:"garp_refresh"`
	GarpRep                int      `json:"garp_rep"`
	GarpRefreshRep         int      `json:"garp_refresh_rep"`
	GarpLowerPrioDelay     int64    `json:"garp_lower_prio_delay"`
	GarpLowerPrioRep       int      `json:"garp_lower_prio_rep"`
	LowerPrioNoAdvert      int      `json:"lower_prio_no_advert"`
	HigherPrioSendAdvert   int      `json:"higher_prio_send_advert"`
	VRID                   int      `json:"vrid"`
	BasePriority           int      `json:"base_priority"`
	EffectivePriority      int      `json:"effective_priority"`
	VIPSet                 bool     `json:"vipset"`
	PromoteSecondaries     bool     `json:"promote_secondaries"`
	AdverInt               float64  `json:"adver_int"`
	MasterAdverInt         float64  `json:"master_adver_int"`
	Accept                 int      `json:"accept"`
	NoPreempt              bool     `json:"nopreempt"`
	PreemptDelay           int64    `json:"preempt_delay"`
	State                  int      `json:"state"`
	WantState              int      `json:"wantstate"`
	Version                int      `json:"version"`
	SMTPAlert              bool     `json:"smtp_alert"`
	NotifyDeleted          bool     `json:"notify_deleted"`
	ScriptBackup           string   `json:"script_backup,omitempty"`
	ScriptMaster           string   `json:"script_master,omitempty"`
	ScriptFault            string   `json:"script_fault,omitempty"`
	ScriptStop             string   `json:"script_stop,omitempty"`
	ScriptDeleted          string   `json:"script_deleted,omitempty"`
	Script                 string   `json:"script,omitempty"`
	ScriptMasterRxLowerPri string   `json:"script_master_rx_lower_pri,omitempty"`
	VIPs                   []string `json:"vips,omitempty"`
	EVIPs                  []string `json:"evips,omitempty"`
	VRoutes                []string `json:"vroutes,omitempty"`
	VRules                 []string `json:"vrules,omitempty"`
	TrackIfp               []string `json:"track_ifp,omitempty"`
	TrackScript            []string `json:"track_script,omitempty"`
	AuthType               int      `json:"auth_type"`
	AuthData               string   `json:"auth_data,omitempty"`
}

// kaStats is vrrp_json_stats_dump's object.
type kaStats struct {
	AdvertRcvd        uint64 `json:"advert_rcvd"`
	AdvertSent        uint64 `json:"advert_sent"`
	BecomeMaster      uint64 `json:"become_master"`
	ReleaseMaster     uint64 `json:"release_master"`
	PacketLenErr      uint64 `json:"packet_len_err"`
	AdvertIntervalErr uint64 `json:"advert_interval_err"`
	IPTTLErr          uint64 `json:"ip_ttl_err"`
	InvalidTypeRcvd   uint64 `json:"invalid_type_rcvd"`
	AddrListErr       uint64 `json:"addr_list_err"`
	InvalidAuthType   uint64 `json:"invalid_authtype"`
	AuthTypeMismatch  uint64 `json:"authtype_mismatch"`
	AuthFailure       uint64 `json:"auth_failure"`
	PriZeroRcvd       uint64 `json:"pri_zero_rcvd"`
	PriZeroSent       uint64 `json:"pri_zero_sent"`
}

// fixed6 is a time printed as keepalived prints last_transition ("%f":
// seconds with six decimals).
type fixed6 time.Time

func (t fixed6) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("0.000000"), nil
	}
	return fmt.Appendf(nil, "%d.%06d", tt.Unix(), tt.Nanosecond()/1000), nil
}

// WriteKeepalivedJSON writes keepalived.json for the instances; extra
// gives each instance's KeepalivedExtra by name (nil: defaults).
func WriteKeepalivedJSON(w io.Writer, src Source, extra func(name string) KeepalivedExtra) error {
	sts := statuses(src)
	out := make([]kaInstance, 0, len(sts))
	for i := range sts {
		var x KeepalivedExtra
		if extra != nil {
			x = extra(sts[i].Name)
		}
		out = append(out, kaInstance{Data: kaDataOf(&sts[i], &x), Stats: kaStatsOf(&sts[i].Stats)})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return err
	}
	// keepalived escapes "/" (valid JSON, and only strings hold one) and
	// ends without a newline.
	_, err := w.Write(bytes.ReplaceAll(bytes.TrimSuffix(b.Bytes(), []byte("\n")), []byte("/"), []byte(`\/`)))
	return err
}

func kaDataOf(st *vrrp.InstanceStatus, x *KeepalivedExtra) kaData {
	state := keepalivedState(st.State)
	d := kaData{
		IName:              st.Name,
		DontTrackPrimary:   b2i(x.DontTrackPrimary),
		SkipCheckAdvAddr:   b2i(x.SkipCheckAdvAddr),
		StrictMode:         b2i(x.StrictMode),
		IfpIfname:          st.Interface,
		LastTransition:     fixed6(st.LastTransition),
		VRID:               st.VRID,
		BasePriority:       st.BasePriority,
		EffectivePriority:  st.Priority,
		VIPSet:             st.State == vrrp.Master,
		PromoteSecondaries: x.PromoteSecondaries,
		AdverInt:           st.AdvertInt.Seconds(),
		MasterAdverInt:     st.MasterAdverInt.Seconds(),
		Accept:             b2i(!x.NoAccept),
		NoPreempt:          !st.Preempt,
		PreemptDelay:       int64(st.PreemptDelay / time.Second),
		State:              state,
		WantState:          state,
		Version:            st.Version,
		SMTPAlert:          x.SMTPAlert,
		NotifyDeleted:      x.NotifyDeleted,
		VRoutes:            x.VRoutes,
		VRules:             x.VRules,
		TrackIfp:           x.TrackInterfaces,
		TrackScript:        x.TrackScripts,
		AuthType:           int(st.AuthType),
	}
	if x.UseVMAC {
		d.VMACIfname = st.Interface
	}
	garp(&d, st)
	scripts(&d, x)
	set := st.State == vrrp.Master
	d.VIPs = kaVIPs(st.VIPs, st, x, set)
	d.EVIPs = kaVIPs(st.Excluded, st, x, set)
	if st.AuthType != vrrp.AuthNone {
		d.AuthData = x.AuthPass
	}
	return d
}

func scripts(d *kaData, x *KeepalivedExtra) {
	d.ScriptBackup, d.ScriptMaster, d.ScriptFault, d.ScriptStop = x.ScriptBackup, x.ScriptMaster, x.ScriptFault, x.ScriptStop
	d.ScriptDeleted, d.Script, d.ScriptMasterRxLowerPri = x.ScriptDeleted, x.Script, x.ScriptMasterRxLowerPri
}

// garp fills the gratuitous ARP schedule and the answers to lower and
// higher priority adverts.
func garp(d *kaData, st *vrrp.InstanceStatus) {
	a := st.Announce
	d.GarpDelay = a.Delay.Seconds()
	d.GarpRefresh = int64(a.Refresh / time.Second)
	d.GarpRep = max(1, a.Repeat)
	d.GarpRefreshRep = max(1, a.RefreshRepeat)
	d.GarpLowerPrioDelay, d.GarpLowerPrioRep = int64(a.LowerPrioDelay/time.Second), a.LowerPrioRepeat
	d.LowerPrioNoAdvert = b2i(st.LowerPrioNoAdvert)
	d.HigherPrioSendAdvert = b2i(st.HigherPrioSendAdvert)
}

func kaStatsOf(s *vrrp.StatsSnapshot) kaStats {
	return kaStats{
		AdvertRcvd: s.AdvertRcvd, AdvertSent: s.AdvertSent, BecomeMaster: s.BecomeMaster, ReleaseMaster: s.ReleaseMaster,
		PacketLenErr: s.Dropped[vrrp.DropPacketLen], AdvertIntervalErr: s.Dropped[vrrp.DropAdvertInterval],
		IPTTLErr: s.Dropped[vrrp.DropTTL], InvalidTypeRcvd: s.Dropped[vrrp.DropInvalidType],
		AddrListErr: s.AddrListErr, InvalidAuthType: s.Dropped[vrrp.DropInvalidAuthType],
		AuthTypeMismatch: s.Dropped[vrrp.DropAuthTypeMismatch], AuthFailure: s.Dropped[vrrp.DropAuthFailure],
		PriZeroRcvd: s.PriZeroRcvd, PriZeroSent: s.PriZeroSent,
	}
}

// kaVIPs prints addresses as keepalived's format_ipaddress; nil for none,
// since keepalived then leaves the key out.
func kaVIPs(vs []vrrp.VIP, st *vrrp.InstanceStatus, x *KeepalivedExtra, set bool) []string {
	var out []string
	for _, v := range vs {
		out = append(out, kaVIP(v, st, x, set))
	}
	return out
}

func kaVIP(v vrrp.VIP, st *vrrp.InstanceStatus, x *KeepalivedExtra, set bool) string {
	var b strings.Builder
	b.WriteString(vipAddress(v.Prefix))
	if v.Brd != "" && v.Prefix.Addr().Is4() {
		b.WriteString(" brd " + v.Brd)
	}
	dev := vipDev(v, st)
	b.WriteString(" dev " + dev)
	if x.UseVMAC && dev == st.Interface && x.Parent != "" {
		b.WriteString("@" + x.Parent)
	}
	b.WriteString(" scope " + scopeName(v.Scope))
	if v.Label != "" {
		b.WriteString(" label " + v.Label)
	}
	if v.Prefix.Addr().Is6() {
		b.WriteString(" preferred_lft forever")
	}
	if set {
		b.WriteString(" set")
	}
	return b.String()
}

// scopeName is rt_scopes' name of a scope given by name or number.
func scopeName(s string) string {
	switch s {
	case "", "0", "global":
		return "global"
	case "200":
		return "site"
	case "253":
		return "link"
	case "254":
		return "host"
	case "255":
		return "nowhere"
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
