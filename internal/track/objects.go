package track

import (
	"strconv"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// Objects are the objects a configuration lets instances track, by name:
// its usable vrrp_scripts, track_file and vrrp_track_process blocks, as
// validation resolved them (it reported the blocks it dropped and the
// values it ignored, with their lines).
type Objects struct {
	scripts    map[string]*config.VRRPScript
	files      map[string]*config.TrackFileSpec
	procs      map[string]*procSpec
	scriptUser []string // global_defs script_user
}

// NewObjects gathers the trackable objects of cfg.
func NewObjects(cfg *config.Config) *Objects {
	o := &Objects{scripts: UsableScripts(cfg), files: cfg.TrackFileSpecs(), procs: map[string]*procSpec{}}
	for name, s := range cfg.TrackProcessSpecs() {
		o.procs[name] = newProcSpec(s)
	}
	if cfg.GlobalDefs != nil {
		o.scriptUser = cfg.GlobalDefs.ScriptUser
	}
	return o
}

// UsableScripts are the vrrp_scripts validation kept, by name: not
// removed while reading (no script, unknown user) nor disabled by the
// script security check.
func UsableScripts(cfg *config.Config) map[string]*config.VRRPScript {
	out := map[string]*config.VRRPScript{}
	for _, s := range cfg.Scripts {
		if !s.Removed && !s.Disabled {
			out[s.Name()] = s
		}
	}
	return out
}

// scriptWeight is a vrrp_script's own weight and reverse flag. Validation
// has checked the words (a bad weight is cleared), but the configuration
// offers no resolved value for them yet.
func scriptWeight(s *config.VRRPScript) (int, bool) {
	if len(s.Weight) == 0 {
		return 0, false
	}
	w, _ := strconv.Atoi(s.Weight[0])
	return w, len(s.Weight) > 1 && s.Weight[1] == "reverse"
}
