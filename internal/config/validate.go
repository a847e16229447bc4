package config

import (
	"os/exec"
)

// validator applies keepalived's checks to a parsed model and fills in
// keepalived's defaults.
type validator struct {
	cfg   *Config
	opts  *Options
	diags Diagnostics
}

func validate(cfg *Config, opts *Options) Diagnostics {
	v := &validator{cfg: cfg, opts: opts}
	return v.diags
}

func lookPath(file string) (string, error) { return exec.LookPath(file) }
