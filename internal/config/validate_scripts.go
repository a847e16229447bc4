package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Script security, as keepalived 2.2.7 applies it (lib/notify.c
// check_script_secure, vrrp.c check_vrrp_script_security, check_data.c
// check_check_script_security).
//
// keepalived reads the configuration in three processes, each with its own
// notion of the default script user: the parent (startup/shutdown scripts),
// the VRRP child and the checker child. The default user is script_user if
// set, else keepalived_script if that user exists, else keepalived's own
// (root). With enable_script_security a missing default user is an error
// the first time a script needs it, and the script is removed.
//
// After reading, each script is checked: it must exist (a bare name is
// searched in PATH) and be executable; a script run as root (or set-uid /
// set-gid root) must have every component of its path owned by root, not
// writable by a non-root group, and not world-writable (a directory with
// the sticky bit is exempt from the writability rules). Without
// enable_script_security an insecure path is only noted; with it the
// script is disabled. Any script that exists, run without
// enable_script_security, is a SECURITY VIOLATION (exit 6).

// scFlags are keepalived's SC_* script check results.
type scFlags uint

const (
	scIsScript scFlags = 1 << iota
	scExecutable
	scNotFound
	scInhibit
	scInsecure
	scSystem // "</path": a file-existence test, not executed
)

const defaultScriptUser = "keepalived_script"

// scDefault is one keepalived process's default script user.
type scDefault struct {
	v        *validator
	resolved bool
	fail     bool
	root     bool // scripts run as the default user run as uid or gid 0
}

func (v *validator) scNewDefault() *scDefault {
	d := &scDefault{v: v}
	if g := v.cfg.GlobalDefs; g != nil && g.IsSet("script_user") && len(g.ScriptUser) > 0 {
		d.resolved = true
		if v.opts.UserExists(g.ScriptUser[0]) {
			d.root = scIsRoot(g.ScriptUser[0], g.ScriptUser[1:])
		} else {
			d.fail = true // "Error setting global script uid/gid" (globalDefs)
		}
	}
	return d
}

// get returns whether scripts run as the default user run as root; ok is
// false if there is no default user. The first lookup that fails with
// script security enabled is reported at pos.
func (d *scDefault) get(pos Pos) (root, ok bool) {
	if d.fail {
		return false, false
	}
	if !d.resolved {
		d.resolved = true
		switch {
		case d.v.opts.UserExists(defaultScriptUser):
			d.root = false
		case d.v.scriptSecurityOn():
			d.v.at(pos, ExitConfigErrors, "script_user", "Unable to set default user %s for script", defaultScriptUser)
			d.v.extra(pos, "script_user", "set script_user in global_defs (e.g. script_user root), or create the keepalived_script user",
				"with enable_script_security the scripts need a user: script_user is not set and user %s does not exist", defaultScriptUser)
			d.fail = true
			return false, false
		default:
			d.root = true // keepalived's own uid
		}
	}
	return d.root, true
}

// scIsRoot: a user (and group) that keepalived would run a script as uid
// or gid 0. Only the names are known here.
func scIsRoot(user string, group []string) bool {
	return user == "root" || (len(group) > 0 && group[0] == "root")
}

func (v *validator) scriptSecurityOn() bool {
	return v.cfg.GlobalDefs != nil && v.cfg.GlobalDefs.EnableScriptSecurity
}

// scUse is a script keepalived would run, with the user it runs as.
type scUse struct {
	pos     Pos     // where keepalived resolves its user (sort key)
	kw      string  // its keyword
	script  *Script // the command
	block   *Block  // the block holding the keyword (to unset it when dropped)
	vscript *VRRPScript
	misc    *Checker
	root    bool
	dropped bool
}

// scriptSecurity decides which scripts keepalived keeps, and reports what
// it reports about them. It runs before vrrp(): removed vrrp_scripts are
// marked Removed (track_script entries naming them are "not found"),
// disabled ones Disabled (their track_script entries are dropped here).
func (v *validator) scriptSecurity() {
	v.scVRRPScriptValues()
	v.scParent()
	v.scVRRP()
	if v.cfg.stopped == nil || !v.cfg.stopped["check"] {
		v.scChecker()
	}
}

// scSort orders uses as keepalived reads them (file order).
func scSort(uses []*scUse) {
	sort.SliceStable(uses, func(i, j int) bool {
		a, b := uses[i].pos, uses[j].pos
		return a.File == b.File && a.Line < b.Line
	})
}

// scNotifyUse resolves the user of a notify-style script (notify_*,
// quorum_*, notify_up/down): "CMD [user [group]]" or the default user.
// keepalived drops a script whose user is unknown with a log message only.
func (v *validator) scNotifyUse(d *scDefault, u *scUse) {
	s := u.script
	if s.User != "" {
		var group []string
		if s.Group != "" {
			group = []string{s.Group}
		}
		if !v.opts.UserExists(s.User) {
			u.dropped = true
			v.extra(s.Pos, u.kw, "keepalived only logs this (not a config error) and ignores the script",
				"user '%s' of %s script %s does not exist - the script is ignored", s.User, u.kw, scCmdStr(*s))
			return
		}
		u.root = scIsRoot(s.User, group)
		return
	}
	root, ok := d.get(s.Pos)
	if !ok {
		u.dropped = true
		v.extra(s.Pos, u.kw, "keepalived only logs this (not a config error) and ignores the script",
			"no user to run %s script %s as - the script is ignored", u.kw, scCmdStr(*s))
		return
	}
	u.root = root
}

// scCmdStr is keepalived's cmd_str: each word in single quotes.
func scCmdStr(s Script) string {
	q := make([]string, len(s.Args))
	for i, a := range s.Args {
		if i == 0 && (strings.HasPrefix(a, "<") || strings.HasPrefix(a, ">")) {
			q[i] = a
		} else {
			q[i] = "'" + a + "'"
		}
	}
	return strings.Join(q, " ")
}

// scParent: startup_script and shutdown_script, read and checked by the
// parent process.
func (v *validator) scParent() {
	g := v.cfg.GlobalDefs
	if g == nil {
		return
	}
	d := v.scNewDefault()
	var uses []*scUse
	for _, x := range []struct {
		kw, typ string
		s       *Script
	}{{"startup_script", "startup", &g.StartupScript}, {"shutdown_script", "shutdown", &g.ShutdownScript}} {
		if x.s.IsZero() {
			continue
		}
		u := &scUse{pos: x.s.Pos, kw: x.kw, script: x.s, block: &g.Block}
		v.scNotifyUse(d, u)
		if u.dropped {
			v.at(x.s.Pos, ExitConfigErrors, x.kw, "Invalid %s script", x.typ)
			v.scDrop(u)
			continue
		}
		uses = append(uses, u)
	}
	v.scCheckAll(uses, "start/shutdown scripts")
}

// scVRRP: the VRRP child's scripts.
func (v *validator) scVRRP() {
	d := v.scNewDefault()
	var uses []*scUse
	for _, vs := range v.cfg.Scripts {
		end := vs.End
		if end.Line == 0 {
			end = vs.Pos
		}
		uses = append(uses, &scUse{pos: end, kw: "script", script: &vs.Script, block: &vs.Block, vscript: vs})
	}
	notify := func(b *Block, kws []string, ss []*Script) {
		for i, s := range ss {
			if !s.IsZero() {
				uses = append(uses, &scUse{pos: s.Pos, kw: kws[i], script: s, block: b})
			}
		}
	}
	instanceKws := []string{"notify_backup", "notify_master", "notify_fault", "notify_stop", "notify_deleted", "notify", "notify_master_rx_lower_pri"}
	for _, vi := range v.cfg.Instances {
		notify(&vi.Block, instanceKws, []*Script{&vi.NotifyBackup, &vi.NotifyMaster, &vi.NotifyFault, &vi.NotifyStop,
			&vi.NotifyDeleted, &vi.Notify, &vi.NotifyMasterRxLowerPri})
	}
	groupKws := []string{"notify_backup", "notify_master", "notify_fault", "notify_stop", "notify"}
	for _, sg := range v.cfg.SyncGroups {
		notify(&sg.Block, groupKws, []*Script{&sg.NotifyBackup, &sg.NotifyMaster, &sg.NotifyFault, &sg.NotifyStop, &sg.Notify})
	}
	scSort(uses)

	// Reading: users, and vrrp_scripts removed at their closing brace.
	kept := v.scKeepUsable(d, uses, func(u *scUse) bool {
		if u.vscript != nil {
			v.scVRRPScriptUser(d, u)
			return true
		}
		return false
	})

	// After reading, keepalived checks the scripts only if there is an
	// instance (vrrp_complete_init).
	if len(v.cfg.Instances) == 0 {
		return
	}
	if g := v.cfg.GlobalDefs; g != nil {
		for _, x := range []struct {
			kw string
			s  *Script
		}{{"notify_fifo_script", &g.NotifyFIFOScript}, {"vrrp_notify_fifo_script", &g.VRRPNotifyFIFOScript}} {
			if !x.s.IsZero() {
				u := &scUse{pos: x.s.Pos, kw: x.kw, script: x.s, block: &g.Block}
				v.scNotifyUse(d, u)
				if !u.dropped {
					kept = append(kept, u)
				}
			}
		}
	}
	v.scCheckAll(kept, "scripts")
	v.scDropDisabledTracks()
}

// scVRRPScriptUser applies vrrp_script's user keyword and, at its closing
// brace, the "no script" and default user checks.
func (v *validator) scVRRPScriptUser(d *scDefault, u *scUse) {
	vs := u.vscript
	name := firstArg(vs.Args)
	remove, userSet := false, false
	if vs.IsSet("user") && len(vs.User) > 0 {
		pos := vs.PosOf("user")
		if v.opts.UserExists(vs.User[0]) {
			userSet = true
			u.root = scIsRoot(vs.User[0], vs.User[1:])
		} else {
			cmd := ""
			if sp := vs.Script.Pos; !vs.Script.IsZero() && (sp.File != pos.File || sp.Line <= pos.Line) {
				cmd = scCmdStr(vs.Script)
			}
			v.at(pos, ExitConfigErrors, "user", "Unable to set uid/gid for script %s", cmd)
			v.extra(pos, "user", "the vrrp_script is removed, so instances tracking it report it as not found",
				"user '%s' does not exist", vs.User[0])
			remove = true
		}
	}
	switch {
	case vs.Script.IsZero():
		v.at(u.pos, ExitConfigErrors, "vrrp_script", "No script set for vrrp_script %s - removing", name)
		remove = true
	case !remove && !userSet:
		root, ok := d.get(u.pos)
		if !ok {
			v.at(u.pos, ExitConfigErrors, "vrrp_script", "Unable to set default user for vrrp script %s - removing", name)
			remove = true
		}
		u.root = root
	}
	if vs.Script.User != "" {
		v.extra(vs.Script.Pos, "script", "use the vrrp_script's user keyword",
			"vrrp_script %s: the words after the command ('%s') are ignored by keepalived; they do not set the user", name, vs.Script.User)
	}
	if remove {
		vs.Removed = true
		u.dropped = true
	}
}

// scDrop removes a notify script keepalived does not keep (vrrp_scripts
// are marked instead).
// scKeepUsable checks each use's user as keepalived does while reading
// (special handles the kinds with their own rules and reports whether it
// did), drops what keepalived drops and returns the rest.
func (v *validator) scKeepUsable(d *scDefault, uses []*scUse, special func(*scUse) bool) []*scUse {
	var kept []*scUse
	for _, u := range uses {
		if !special(u) {
			v.scNotifyUse(d, u)
		}
		if u.dropped {
			v.scDrop(u)
			continue
		}
		kept = append(kept, u)
	}
	return kept
}

func (v *validator) scDrop(u *scUse) {
	if u.vscript != nil || u.misc != nil {
		return
	}
	*u.script = Script{}
	if u.block != nil {
		u.block.Set.Delete(u.kw)
	}
}

// scCheckAll checks each script's file and path, reports what keepalived
// reports, and the SECURITY VIOLATION of kind ("scripts", "check scripts",
// "start/shutdown scripts") if any script exists and script security is off.
func (v *validator) scCheckAll(uses []*scUse, kind string) {
	var all scFlags
	var first Pos
	var insecure []string
	for _, u := range uses {
		flags, why := v.scCheck(*u.script, u.root)
		all |= flags
		if flags&scIsScript != 0 && first.Line == 0 {
			first = u.script.Pos
		}
		if flags&scInsecure != 0 {
			insecure = append(insecure, fmt.Sprintf("%s (%s line %d): %s", u.script.Args[0], u.script.Pos.File, u.script.Pos.Line, why))
		}
		disabled := flags&(scInhibit|scNotFound) != 0 || flags&(scExecutable|scSystem) == 0
		switch {
		case u.vscript != nil:
			name := firstArg(u.vscript.Args)
			switch {
			case flags&scInhibit != 0:
				v.noLine(u.script.Pos, ExitConfigErrors, "script", "Disabling track script %s due to insecure", name)
				v.scHint(why)
			case flags&scNotFound != 0:
				v.noLine(u.script.Pos, ExitConfigErrors, "script", "Disabling track script %s since not found/accessible", name)
				v.scHint(why)
			case disabled:
				v.extra(u.script.Pos, "script", "keepalived only logs this; the vrrp_script is disabled and instances stop tracking it",
					"vrrp_script %s: %s", name, why)
			case flags&scInsecure != 0:
				v.extra(u.script.Pos, "script", "make every directory of the path and the script owned by root and writable only by root",
					"vrrp_script %s is run as root from an unsafe path: %s", name, why)
			}
			u.vscript.Disabled = disabled
		case disabled && flags&scSystem == 0:
			v.extra(u.script.Pos, u.kw, "keepalived only logs this (not a config error) and will not run the script",
				"%s script %s disabled: %s", u.kw, scCmdStr(*u.script), why)
			if u.misc == nil {
				v.scDrop(u)
			}
		case flags&scInsecure != 0:
			v.extra(u.script.Pos, u.kw, "make every directory of the path and the script owned by root and writable only by root",
				"%s script %s is run as root from an unsafe path: %s", u.kw, scCmdStr(*u.script), why)
		}
	}
	if !v.scriptSecurityOn() && all&scIsScript != 0 {
		extra := ""
		if all&scInsecure != 0 {
			extra = " There are insecure scripts."
		}
		v.noLine(first, ExitScriptSecurity, "enable_script_security", "SECURITY VIOLATION - %s are being executed but script_security not enabled.%s", kind, extra)
		d := &v.diags[len(v.diags)-1]
		d.Hint = "add enable_script_security (and script_user) to global_defs"
		if len(insecure) > 0 {
			d.Hint += "; insecure: " + strings.Join(insecure, "; ")
		}
	}
}

// scHint appends why to the hint of the last finding.
func (v *validator) scHint(why string) {
	if why == "" || len(v.diags) == 0 {
		return
	}
	d := &v.diags[len(v.diags)-1]
	if d.Hint != "" {
		d.Hint += "; "
	}
	d.Hint += why
}

// scCheck is keepalived's check_script_secure for one script run as root
// (uid or gid 0) or not; why says what is wrong, naming the path component.
func (v *validator) scCheck(s Script, root bool) (scFlags, string) {
	if len(s.Args) == 0 {
		return 0, ""
	}
	cmd := s.Args[0]
	if strings.HasPrefix(cmd, "<") && strings.HasPrefix(strings.TrimLeft(cmd[1:], " \t"), "/") {
		return scSystem, ""
	}
	path := cmd
	if !strings.Contains(cmd, "/") {
		p, err := v.opts.LookPath(cmd)
		if err != nil {
			return scNotFound, fmt.Sprintf("cannot find %s in PATH", cmd)
		}
		path = p
	}
	fi, err := v.opts.Stat(path)
	if err != nil {
		return scNotFound, fmt.Sprintf("%s: %v", path, scErr(err))
	}
	flags := scIsScript
	mode := fi.Mode()
	uid, gid := scOwner(fi)
	if mode.Perm()&0o111 == 0 || !mode.IsRegular() {
		return flags, fmt.Sprintf("%s is not executable", path)
	}
	flags |= scExecutable
	protect := root ||
		(uid == 0 && mode&os.ModeSetuid != 0 && mode&0o100 != 0) ||
		(gid == 0 && mode&os.ModeSetgid != 0 && mode&0o010 != 0)
	if !protect {
		return flags, ""
	}
	f, why := v.scPathSecurity(path)
	return flags | f, why
}

func scErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// scOwner returns a file's owner and group; a FileInfo without them (a
// test's) counts as root's.
func scOwner(fi os.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}

// scPathSecurity is keepalived's check_security: every component of path,
// from "/", must be root-owned and not writable by a non-root group or by
// everyone, unless it is a directory with the sticky bit. Components are
// followed through symbolic links (keepalived checks the real path).
func (v *validator) scPathSecurity(path string) (scFlags, string) {
	var comps []string
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			if i == 0 {
				comps = append(comps, "/")
			} else {
				comps = append(comps, path[:i])
			}
		}
	}
	comps = append(comps, path)
	for i, c := range comps {
		last := i == len(comps)-1
		if !last && i > 0 && c == comps[i-1] {
			continue
		}
		fi, err := v.opts.Stat(c)
		if err != nil {
			return scNotFound, fmt.Sprintf("%s: %v", c, scErr(err))
		}
		mode := fi.Mode()
		if (!last && !mode.IsDir()) || (last && !mode.IsRegular()) {
			return scInhibit, fmt.Sprintf("wrong file type in script path: %s", c)
		}
		uid, gid := scOwner(fi)
		var why string
		kind := "file"
		if mode.IsDir() {
			kind = "directory"
		}
		exempt := mode.IsDir() && mode&os.ModeSticky != 0
		switch {
		case uid != 0:
			why = fmt.Sprintf("%s %s is owned by uid %d, not root", kind, c, uid)
		case !exempt && gid != 0 && mode&0o020 != 0:
			why = fmt.Sprintf("%s %s is group-writable and its group (gid %d) is not root", kind, c, gid)
		case !exempt && mode&0o002 != 0:
			why = fmt.Sprintf("%s %s is world-writable", kind, c)
			if mode.IsDir() {
				why += " without the sticky bit"
			}
		}
		if why != "" {
			f := scInsecure
			if v.scriptSecurityOn() {
				f |= scInhibit
			}
			return f, why
		}
	}
	return 0, ""
}

// scDropDisabledTracks drops the track_script entries naming a disabled
// vrrp_script, as keepalived does after the security check (silently).
func (v *validator) scDropDisabledTracks() {
	disabled := map[string]bool{}
	for _, vs := range v.cfg.Scripts {
		if vs.Disabled && !vs.Removed {
			disabled[firstArg(vs.Args)] = true
		}
	}
	if len(disabled) == 0 {
		return
	}
	filter := func(refs []TrackRef) []TrackRef {
		out := refs[:0]
		for _, r := range refs {
			if !disabled[r.Name] {
				out = append(out, r)
			}
		}
		return out
	}
	for _, vi := range v.cfg.Instances {
		vi.TrackScript = filter(vi.TrackScript)
	}
	for _, sg := range v.cfg.SyncGroups {
		sg.TrackScript = filter(sg.TrackScript)
	}
}

// scChecker: the checker child's scripts (MISC_CHECK, real server and
// quorum notifies).
func (v *validator) scChecker() {
	d := v.scNewDefault()
	var uses []*scUse
	for _, vs := range v.cfg.VirtualServers {
		for _, x := range []struct {
			kw string
			s  *Script
		}{{"quorum_up", &vs.QuorumUp}, {"quorum_down", &vs.QuorumDown}} {
			if !x.s.IsZero() {
				uses = append(uses, &scUse{pos: x.s.Pos, kw: x.kw, script: x.s, block: &vs.Block})
			}
		}
		for _, rs := range vs.RealServers {
			for _, x := range []struct {
				kw string
				s  *Script
			}{{"notify_up", &rs.NotifyUp}, {"notify_down", &rs.NotifyDown}} {
				if !x.s.IsZero() {
					uses = append(uses, &scUse{pos: x.s.Pos, kw: x.kw, script: x.s, block: &rs.Block})
				}
			}
			for _, c := range rs.Checkers {
				if c.Keyword != "MISC_CHECK" {
					continue
				}
				end := c.End
				if end.Line == 0 {
					end = c.Pos
				}
				uses = append(uses, &scUse{pos: end, kw: "misc_path", script: &c.MiscPath, block: &c.Block, misc: c})
			}
		}
	}
	scSort(uses)
	kept := v.scKeepUsable(d, uses, func(u *scUse) bool {
		if u.misc != nil {
			v.scMiscUser(d, u)
			return true
		}
		return false
	})
	if len(v.cfg.VirtualServers) == 0 {
		return
	}
	if g := v.cfg.GlobalDefs; g != nil {
		for _, x := range []struct {
			kw string
			s  *Script
		}{{"notify_fifo_script", &g.NotifyFIFOScript}, {"lvs_notify_fifo_script", &g.LVSNotifyFIFOScript}} {
			if !x.s.IsZero() {
				u := &scUse{pos: x.s.Pos, kw: x.kw, script: x.s}
				v.scNotifyUse(d, u)
				if !u.dropped {
					kept = append(kept, u)
				}
			}
		}
	}
	v.scCheckAll(kept, "check scripts")
}

// scMiscUser applies MISC_CHECK's user keyword and, at its closing brace,
// the default user. A MISC_CHECK without misc_path is reported by the
// checker validation.
func (v *validator) scMiscUser(d *scDefault, u *scUse) {
	c := u.misc
	if c.MiscPath.IsZero() {
		u.dropped = true
		return
	}
	if c.IsSet("user") && len(c.User) > 0 {
		if v.opts.UserExists(c.User[0]) {
			u.root = scIsRoot(c.User[0], c.User[1:])
			return
		}
		v.at(c.PosOf("user"), ExitConfigErrors, "user", "Failed to set uid/gid for misc checker script %s - removing", scCmdStr(c.MiscPath))
		v.dropMisc(u)
		return
	}
	root, ok := d.get(u.pos)
	if !ok {
		v.at(u.pos, ExitConfigErrors, "MISC_CHECK", "Unable to set default user for misc script %s - removing", scCmdStr(c.MiscPath))
		v.dropMisc(u)
		return
	}
	u.root = root
}

// dropMisc marks a MISC_CHECK keepalived removes.
func (v *validator) dropMisc(u *scUse) {
	u.dropped = true
	if v.droppedMisc == nil {
		v.droppedMisc = map[*Checker]bool{}
	}
	v.droppedMisc[u.misc] = true
}

// scVRRPScriptValues checks a vrrp_script's numbers as keepalived reads
// them, and applies the defaults (interval 1 s, rise 1, fall 1).
func (v *validator) scVRRPScriptValues() {
	for _, vs := range v.cfg.Scripts {
		name := firstArg(vs.Args)
		if vs.IsSet("interval") {
			vs.Interval = v.scSeconds(vs, "interval", vs.Interval,
				"(%s): vrrp script interval must be greater than 0, setting to 1",
				"(%s): vrrp script interval '%s' must be between 1 and "+strconv.Itoa(maxTimerSeconds)+" - ignoring")
		}
		if vs.Interval == 0 {
			vs.Interval = Timer(time.Second)
		}
		if vs.IsSet("timeout") {
			vs.Timeout = v.scSeconds(vs, "timeout", vs.Timeout,
				"(%s): vrrp script timeout must be greater than 0, setting to 1",
				"(%s): vrrp script timeout '%s' invalid - ignoring")
		}
		if vs.IsSet("weight") && len(vs.Weight) > 0 {
			pos := vs.PosOf("weight")
			if _, m := gdCheckInt(vs.Weight[0], -253, 253, false); m != "" {
				v.at(pos, ExitConfigErrors, "weight", "%s", m)
				v.at(pos, ExitConfigErrors, "weight", "vrrp_script %s weight %s must be in [-253, 253]", name, vs.Weight[0])
				vs.Weight = nil
			} else if len(vs.Weight) > 1 && vs.Weight[1] != "reverse" {
				v.at(pos, ExitConfigErrors, "weight", "vrrp_script %s unknown weight option %s", name, vs.Weight[1])
			}
		}
		for _, x := range []struct {
			kw  string
			val *int
		}{{"rise", &vs.Rise}, {"fall", &vs.Fall}} {
			if vs.IsSet(x.kw) && *x.val < 1 {
				s := strconv.Itoa(*x.val)
				_, m := gdCheckInt(s, 1, 1<<31-1, true)
				pos := vs.PosOf(x.kw)
				v.at(pos, ExitConfigErrors, x.kw, "%s", m)
				v.at(pos, ExitConfigErrors, x.kw, "(%s): vrrp script %s value '%s' invalid, defaulting to 1", name, x.kw, s)
			}
			if *x.val < 1 {
				*x.val = 1
			}
		}
	}
}

// scSeconds checks a vrrp_script interval or timeout: keepalived 2.2.7
// reads whole seconds in [0, 4294], and makes 0 into 1.
func (v *validator) scSeconds(vs *VRRPScript, kw string, t Timer, zeroMsg, badMsg string) Timer {
	name := firstArg(vs.Args)
	pos := vs.PosOf(kw)
	d := time.Duration(t)
	switch {
	case d == 0:
		v.at(pos, ExitConfigErrors, kw, zeroMsg, name)
		return Timer(time.Second)
	case d%time.Second != 0:
		v.at(pos, ExitConfigErrors, kw, "invalid number '%s'", t)
		v.at(pos, ExitConfigErrors, kw, badMsg, name, t)
		v.extra(pos, kw, "keepalived 2.2.7 takes whole seconds here", "%s %s is not a whole number of seconds", kw, t)
		return 0
	case d > maxTimerSeconds*time.Second:
		v.at(pos, ExitConfigErrors, kw, "number '%s' outside range [0, %d]", t, maxTimerSeconds)
		v.at(pos, ExitConfigErrors, kw, badMsg, name, t)
		return 0
	}
	return t
}
