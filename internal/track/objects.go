package track

import (
	"strconv"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// Objects are the objects a configuration lets instances track, by name:
// its usable vrrp_scripts, track_file and vrrp_track_process blocks.
type Objects struct {
	scripts    map[string]*config.VRRPScript
	files      map[string]*fileSpec
	procs      map[string]*procSpec
	problems   []string // what keepalived would have reported about them
	scriptUser []string // global_defs script_user
}

// NewObjects gathers the trackable objects of cfg.
func NewObjects(cfg *config.Config) *Objects {
	o := &Objects{scripts: UsableScripts(cfg)}
	var p []string
	o.files, o.problems = fileSpecs(cfg)
	o.procs, p = procSpecs(cfg)
	o.problems = append(o.problems, p...)
	if cfg.GlobalDefs != nil {
		o.scriptUser = cfg.GlobalDefs.ScriptUser
	}
	return o
}

// UsableScripts are the vrrp_scripts validation kept, by name.
func UsableScripts(cfg *config.Config) map[string]*config.VRRPScript {
	out := map[string]*config.VRRPScript{}
	for _, s := range cfg.Scripts {
		if !s.Removed && !s.Disabled && !s.Script.IsZero() {
			out[s.Name()] = s
		}
	}
	return out
}

// scriptWeight is a vrrp_script's own weight and reverse flag.
func scriptWeight(s *config.VRRPScript) (int, bool) {
	if len(s.Weight) == 0 {
		return 0, false
	}
	w, _ := strconv.Atoi(s.Weight[0])
	return w, len(s.Weight) > 1 && s.Weight[1] == "reverse"
}
