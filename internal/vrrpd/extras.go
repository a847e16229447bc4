package vrrpd

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/api"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/notify"
	"github.com/keepalived-go/keepalived-go/internal/runner"
	"github.com/keepalived-go/keepalived-go/internal/track"
)

// implemented tells whether the subsystem acts on a keyword.
var implemented = func() map[string]bool {
	m := make(map[string]bool, len(keywords))
	for _, kw := range keywords {
		m[kw] = true
	}
	return m
}()

// KeepalivedExtras is, per instance name, what keepalived.json shows
// beyond the instance's own status. A keyword the daemon does not act on
// shows keepalived's default, not the configured value: the dump says
// what runs.
func KeepalivedExtras(cfg *config.Config) map[string]api.KeepalivedExtra {
	out := map[string]api.KeepalivedExtra{}
	scripts := track.UsableScripts(cfg)
	strict := cfg.GlobalDefs != nil && cfg.GlobalDefs.VRRPStrict
	g := cfg.GlobalDefs
	if g == nil {
		g = &config.GlobalDefs{}
	}
	for _, ci := range cfg.Instances {
		on := func(kw string, v bool) bool { return implemented[kw] && v }
		x := api.KeepalivedExtra{
			DontTrackPrimary:   on("dont_track_primary", ci.DontTrackPrimary),
			SkipCheckAdvAddr:   skipCheckAdvAddr(g, ci), // resolved, as vrrp_json.c prints the flag
			StrictMode:         ci.StrictMode || strict,
			UseVMAC:            on("use_vmac", ci.IsSet("use_vmac")),
			Parent:             ci.Interface,
			NoAccept:           blocksVIPs(cfg, ci),
			PromoteSecondaries: on("promote_secondaries", ci.PromoteSecondaries && !ci.IsSet("use_vmac") && !ci.IsSet("use_ipvlan")),
			SMTPAlert:          notify.VRRPAlertOn(cfg.GlobalDefs, ci.IsSet("smtp_alert"), ci.SMTPAlert), // resolved, as vrrp_json.c prints it
			NotifyDeleted:      on("notify_deleted", ci.IsSet("notify_deleted")),
			AuthPass:           authPass(ci),
		}
		notifyScripts(&x, ci)
		if implemented["virtual_routes"] {
			x.VRoutes = lines(ci.VirtualRoutes, func(r config.Route) []string { return r.Words })
		}
		if implemented["virtual_rules"] {
			x.VRules = lines(ci.VirtualRules, func(r config.Rule) []string { return r.Words })
		}
		x.TrackInterfaces, x.TrackScripts = tracked(ci, scripts)
		dataExtras(&x, cfg, ci, scripts)
		out[ci.Name()] = x
	}
	return out
}

// notifyScripts fills the notify scripts the daemon runs.
func notifyScripts(x *api.KeepalivedExtra, ci *config.VRRPInstance) {
	for _, s := range []struct {
		kw  string
		s   config.Script
		dst *string
	}{
		{"notify_backup", ci.NotifyBackup, &x.ScriptBackup},
		{"notify_master", ci.NotifyMaster, &x.ScriptMaster},
		{"notify_fault", ci.NotifyFault, &x.ScriptFault},
		{"notify_stop", ci.NotifyStop, &x.ScriptStop},
		{"notify_deleted", ci.NotifyDeleted, &x.ScriptDeleted},
		{"notify", ci.Notify, &x.Script},
		{"notify_master_rx_lower_pri", ci.NotifyMasterRxLowerPri, &x.ScriptMasterRxLowerPri},
	} {
		if implemented[s.kw] && !s.s.IsZero() {
			*s.dst = api.ScriptString(s.s.Args)
		}
	}
}

// tracked lists the tracked interfaces, and the commands of the tracked
// scripts that run (keepalived prints commands, not script names).
func tracked(ci *config.VRRPInstance, scripts map[string]*config.VRRPScript) (ifs, cmds []string) {
	if implemented["track_interface"] {
		for _, t := range ci.TrackInterface {
			ifs = append(ifs, t.Name)
		}
	}
	if implemented["track_script"] {
		for _, t := range ci.TrackScript {
			if s, ok := scripts[t.Name]; ok {
				cmds = append(cmds, api.ScriptString(s.Script.Args))
			}
		}
	}
	return ifs, cmds
}

// dataExtras fills what only keepalived.data shows.
func dataExtras(x *api.KeepalivedExtra, cfg *config.Config, ci *config.VRRPInstance, scripts map[string]*config.VRRPScript) {
	for _, g := range cfg.SyncGroups {
		for _, w := range g.Group {
			for _, name := range w.Words {
				if name == ci.Name() {
					x.SyncGroup = firstArg(g.Args)
				}
			}
		}
	}
	x.SourceIP = ci.McastSrcIP
	for _, p := range ci.UnicastPeers {
		maxTTL := p.MaxTTL
		if maxTTL == 0 {
			maxTTL = 255
		}
		x.UnicastPeers = append(x.UnicastPeers, fmt.Sprintf("%s min_ttl %d max_ttl %d", p.Addr, p.MinTTL, maxTTL))
	}
	x.CheckUnicastSrc = ci.CheckUnicastSrc || (cfg.GlobalDefs != nil && cfg.GlobalDefs.VRRPCheckUnicastSrc)
	if implemented["track_script"] {
		for _, t := range ci.TrackScript {
			s, ok := scripts[t.Name]
			if !ok {
				continue
			}
			w, rev := t.Weight, t.Reverse
			if !t.HasWeight {
				w, rev = scriptWeight(s)
			}
			r := ""
			if rev {
				r = " reverse"
			}
			x.TrackScriptWeights = append(x.TrackScriptWeights, fmt.Sprintf("%s weight %d%s", t.Name, w, r))
		}
	}
	x.ScriptUIDGID = uidGID(scriptUser(cfg))
}

// uidGID is the "uid:gid" scripts of the user names ("user [group]")
// run as, as keepalived prints it; the daemon's own when no user applies
// or it cannot be resolved.
func uidGID(names []string) string {
	if cred, err := runner.Credential(names); err == nil && cred != nil {
		return fmt.Sprintf("%d:%d", cred.Uid, cred.Gid)
	}
	return fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
}

// scriptUserOf is a vrrp_script's user: its own, else script_user.
func scriptUserOf(s *config.VRRPScript, cfg *config.Config) []string {
	if len(s.User) > 0 {
		return s.User
	}
	return scriptUser(cfg)
}

// scriptWeight is a vrrp_script's own weight ("weight W [reverse]").
func scriptWeight(s *config.VRRPScript) (int, bool) {
	if len(s.Weight) == 0 {
		return 0, false
	}
	w, _ := strconv.Atoi(s.Weight[0])
	return w, len(s.Weight) > 1 && s.Weight[1] == "reverse"
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// authPass is the VRRPv2 PASS password or AH key as keepalived keeps it
// (validation truncated it to 8 bytes); keepalived.json shows either
// (vrrp_json.c vrrp_json_auth_dump), keepalived.data only the password.
func authPass(ci *config.VRRPInstance) string {
	a := ci.Authentication
	if a == nil || (a.AuthType != "PASS" && a.AuthType != "AH") || ci.Version != 2 {
		return ""
	}
	return a.AuthPass
}

// lines joins each item's words into one line.
func lines[T any](items []T, words func(T) []string) []string {
	var out []string
	for _, it := range items {
		out = append(out, strings.Join(words(it), " "))
	}
	return out
}

// DataScripts are the vrrp_scripts that instances track, in the
// configuration's order, as keepalived.data shows them; good gives the
// current verdicts (ScriptVerdicts).
func DataScripts(cfg *config.Config, good map[string]bool) []api.DataScript {
	if !implemented["track_script"] {
		return nil
	}
	usable := track.UsableScripts(cfg)
	var out []api.DataScript
	for _, s := range cfg.Scripts {
		name := s.Name()
		if usable[name] == nil {
			continue
		}
		w, rev := scriptWeight(s)
		d := api.DataScript{Name: name, Command: api.ScriptString(s.Script.Args),
			Interval: s.Interval.Duration(), Timeout: s.Timeout.Duration(),
			Weight: w, Reverse: rev, Rise: max(1, s.Rise), Fall: max(1, s.Fall),
			Good: good[name], UIDGID: uidGID(scriptUserOf(s, cfg))}
		if d.Interval == 0 {
			d.Interval = time.Second
		}
		for _, ci := range cfg.Instances {
			for _, t := range ci.TrackScript {
				if t.Name != name {
					continue
				}
				tw := w
				if t.HasWeight {
					tw = t.Weight
				}
				d.Tracking = append(d.Tracking, fmt.Sprintf("%s, weight %d", ci.Name(), tw))
			}
		}
		if len(d.Tracking) > 0 {
			out = append(out, d)
		}
	}
	return out
}
