package config

import (
	"fmt"
	"os/exec"
)

// validator applies keepalived's checks to a parsed model and fills in
// keepalived's defaults. Each area has its own file: validate_vrrp.go,
// validate_lvs.go, validate_global.go, validate_scripts.go.
type validator struct {
	cfg   *Config
	opts  *Options
	diags Diagnostics
	// missingInterface makes keepalived's closing "Non-existent interface
	// specified in configuration" line.
	missingInterface bool
	// tracked is what instances may track, by name: built once, not once
	// per instance.
	tracked *trackedNames
	// servers holds the real servers of the virtual server being checked.
	servers []lvsServer
	// specs is where the virtual servers' resolved specs are allocated.
	specs specArena
	// droppedMisc are the MISC_CHECKs script security removed.
	droppedMisc map[*Checker]bool
}

// newServer returns a copy of s that lives until the next virtual server
// is checked.
func (v *validator) newServer(s lvsServer) *lvsServer {
	if len(v.servers) == cap(v.servers) {
		v.servers = make([]lvsServer, 0, max(64, 2*cap(v.servers)))
	}
	v.servers = append(v.servers, s)
	return &v.servers[len(v.servers)-1]
}

type trackedNames struct {
	scripts                map[string]*VRRPScript // those script security kept
	files, processes, bfds map[string]bool
}

// trackNames returns the names instances may track. Script security and
// trackObjects have run by then, so the kept scripts, track files and
// tracked processes are known.
func (v *validator) trackNames() *trackedNames {
	if v.tracked == nil {
		t := &trackedNames{scripts: map[string]*VRRPScript{}, files: mapKeySet(v.cfg.TrackFileSpecs()),
			processes: mapKeySet(v.cfg.TrackProcessSpecs()), bfds: namesOf(v.cfg.BFDInstances)}
		for _, s := range v.cfg.Scripts {
			if !s.Removed {
				t.scripts[firstArg(s.Args)] = s
			}
		}
		v.tracked = t
	}
	return v.tracked
}

func validate(cfg *Config, opts *Options) Diagnostics {
	v := &validator{cfg: cfg, opts: opts}
	// Order matters: script security decides which vrrp_scripts survive,
	// and trackObjects which track_file and vrrp_track_process blocks,
	// before the instances (and FILE_CHECKs) that track them are checked.
	checks := []struct {
		area string
		run  func()
	}{{"global", v.globalDefs}, {"vrrp", v.scriptSecurity}, {"", v.trackObjects}, {"vrrp", v.vrrp},
		{"check", v.virtualServers}, {"", v.rootBlocks}}
	for _, c := range checks {
		// keepalived's child for an area exits at a missing parameter,
		// before its post-parse checks.
		if !cfg.stopped[c.area] {
			c.run()
		}
	}
	return v.diags
}

// at records a finding that keepalived cites at pos; code is the -t exit
// code it implies (ExitOK for a warning).
func (v *validator) at(pos Pos, code int, keyword, format string, args ...any) {
	v.diags = append(v.diags, Diagnostic{Severity: severityOf(code), Code: code, File: pos.File, Line: pos.Line,
		Keyword: keyword, Msg: fmt.Sprintf(format, args...)})
}

// noLine records a finding keepalived reports without a line number. We
// still say where: the position goes into the hint, which the oracle
// comparison does not read.
func (v *validator) noLine(pos Pos, code int, keyword, format string, args ...any) {
	d := Diagnostic{Severity: severityOf(code), Code: code, Keyword: keyword, Msg: fmt.Sprintf(format, args...)}
	if pos.Line > 0 {
		d.Hint = fmt.Sprintf("see %s line %d", pos.File, pos.Line)
	}
	v.diags = append(v.diags, d)
}

// extra records a finding of ours that keepalived does not report.
func (v *validator) extra(pos Pos, keyword, hint, format string, args ...any) {
	v.diags = append(v.diags, Diagnostic{Severity: Warning, File: pos.File, Line: pos.Line, Keyword: keyword,
		Msg: fmt.Sprintf(format, args...), Hint: hint, Extra: true})
}

func severityOf(code int) Severity {
	if code == ExitOK {
		return Warning
	}
	return Error
}

func lookPath(file string) (string, error) { return exec.LookPath(file) }
