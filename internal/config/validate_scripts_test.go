package config

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scFile is a fake file for Options.Stat.
type scFile struct {
	name     string
	mode     fs.FileMode
	uid, gid uint32
}

func (f scFile) Name() string       { return path.Base(f.name) }
func (f scFile) Size() int64        { return 0 }
func (f scFile) Mode() fs.FileMode  { return f.mode }
func (f scFile) ModTime() time.Time { return time.Time{} }
func (f scFile) IsDir() bool        { return f.mode.IsDir() }
func (f scFile) Sys() any           { return &syscall.Stat_t{Uid: f.uid, Gid: f.gid} }

// scFS is a fake machine: root-owned /, /usr, /usr/bin/true, /opt.
type scFS map[string]scFile

func newScFS() scFS {
	fsys := scFS{}
	fsys.add("/", fs.ModeDir|0o755, 0, 0)
	fsys.add("/usr", fs.ModeDir|0o755, 0, 0)
	fsys.add("/usr/bin", fs.ModeDir|0o755, 0, 0)
	fsys.add("/usr/bin/true", 0o755, 0, 0)
	fsys.add("/opt", fs.ModeDir|0o755, 0, 0)
	return fsys
}

func (fsys scFS) add(p string, mode fs.FileMode, uid, gid uint32) {
	fsys[p] = scFile{name: p, mode: mode, uid: uid, gid: gid}
}

func (fsys scFS) opts() Options {
	return Options{
		ConfigID:        "testhost",
		InterfaceExists: oracleInterfaceExists,
		UserExists:      func(n string) bool { return n == "root" || n == "nobody" },
		Stat: func(p string) (os.FileInfo, error) {
			if f, ok := fsys[p]; ok {
				return f, nil
			}
			return nil, &os.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
		},
		LookPath: func(f string) (string, error) {
			if _, ok := fsys["/usr/bin/"+f]; ok {
				return "/usr/bin/" + f, nil
			}
			return "", errors.New("not found")
		},
	}
}

const scInstance = `vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    track_script {
        chk
    }
    virtual_ipaddress {
        192.168.200.16
    }
}
`

func scLoad(t *testing.T, fsys scFS, text string) (*Config, Diagnostics) {
	t.Helper()
	return LoadBytes("test.conf", []byte(text), fsys.opts())
}

// scFind returns the first finding whose message contains msg.
func scFind(ds Diagnostics, msg string) *Diagnostic {
	for i := range ds {
		if strings.Contains(ds[i].Msg, msg) {
			return &ds[i]
		}
	}
	return nil
}

func scGlobal(security bool, user string) string {
	s := "global_defs {\n"
	if security {
		s += "    enable_script_security\n"
	}
	if user != "" {
		s += "    script_user " + user + "\n"
	}
	return s + "}\n"
}

func scScript(cmd string) string {
	return "vrrp_script chk {\n    script \"" + cmd + "\"\n    interval 2\n}\n"
}

func TestScriptSecurityViolation(t *testing.T) {
	fsys := newScFS()
	_, ds := scLoad(t, fsys, scScript("/usr/bin/true")+scInstance)
	d := scFind(ds, "SECURITY VIOLATION - scripts are being executed but script_security not enabled.")
	if d == nil || d.Line != 0 || ds.ExitCode() != ExitScriptSecurity {
		t.Fatalf("want the violation, no line, exit 6; got exit %d:%s", ds.ExitCode(), gdDump(ds))
	}
	// A bare name is found in PATH.
	_, ds = scLoad(t, fsys, scScript("true")+scInstance)
	if ds.ExitCode() != ExitScriptSecurity {
		t.Errorf("bare name: exit %d:%s", ds.ExitCode(), gdDump(ds))
	}
	// A script that does not exist is no violation, but is disabled.
	cfg, ds := scLoad(t, fsys, scGlobal(true, "root")+scScript("/opt/nosuch.sh")+scInstance)
	if d := scFind(ds, "Disabling track script chk since not found/accessible"); d == nil || d.Line != 0 || ds.ExitCode() != ExitConfigErrors {
		t.Errorf("missing script: exit %d:%s", ds.ExitCode(), gdDump(ds))
	}
	if !cfg.Scripts[0].Disabled || cfg.Scripts[0].Removed || len(cfg.Instances[0].TrackScript) != 0 {
		t.Errorf("missing script: want Disabled and its track entry dropped silently")
	}
	if scFind(ds, "not found, ignoring") != nil {
		t.Errorf("a disabled script must not be 'not found':%s", gdDump(ds))
	}
	// Checker scripts.
	_, ds = scLoad(t, fsys, `virtual_server 10.1.1.1 80 {
    protocol TCP
    real_server 10.1.2.1 80 {
        MISC_CHECK {
            misc_path "/usr/bin/true arg"
        }
    }
}
`)
	if scFind(ds, "SECURITY VIOLATION - check scripts are being executed but script_security not enabled.") == nil {
		t.Errorf("misc_path: want the check scripts violation:%s", gdDump(ds))
	}
}

func TestScriptSecurityUnsafePath(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(scFS)
		why   string // "" means safe
	}{
		{"dir owned by a user", func(f scFS) { f.add("/opt/chk", fs.ModeDir|0o755, 1000, 1000) }, "directory /opt/chk is owned by uid 1000, not root"},
		{"dir group-writable", func(f scFS) { f.add("/opt/chk", fs.ModeDir|0o775, 0, 50) }, "directory /opt/chk is group-writable and its group (gid 50) is not root"},
		{"dir group-writable by root", func(f scFS) { f.add("/opt/chk", fs.ModeDir|0o775, 0, 0) }, ""},
		{"dir world-writable", func(f scFS) { f.add("/opt/chk", fs.ModeDir|0o777, 0, 0) }, "directory /opt/chk is world-writable without the sticky bit"},
		{"dir world-writable sticky", func(f scFS) { f.add("/opt/chk", fs.ModeDir|fs.ModeSticky|0o777, 0, 0) }, ""},
		{"file world-writable", func(f scFS) {
			f.add("/opt/chk", fs.ModeDir|0o755, 0, 0)
			f.add("/opt/chk/run.sh", 0o757, 0, 0)
		}, "file /opt/chk/run.sh is world-writable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := newScFS()
			fsys.add("/opt/chk", fs.ModeDir|0o755, 0, 0)
			fsys.add("/opt/chk/run.sh", 0o755, 0, 0)
			c.setup(fsys)

			// With script security the script is disabled, and we say why.
			cfg, ds := scLoad(t, fsys, scGlobal(true, "root")+scScript("/opt/chk/run.sh")+scInstance)
			d := scFind(ds, "Disabling track script chk due to insecure")
			if c.why == "" {
				if ds.ExitCode() != 0 {
					t.Fatalf("safe path: exit %d:%s", ds.ExitCode(), gdDump(ds))
				}
				return
			}
			if d == nil || d.Line != 0 || !strings.Contains(d.Hint, c.why) || !cfg.Scripts[0].Disabled {
				t.Fatalf("want 'due to insecure' with hint %q:%s", c.why, gdDump(ds))
			}
			// Without, it is a violation with insecure scripts, and an
			// extra finding names the component at the script's line.
			_, ds = scLoad(t, fsys, scScript("/opt/chk/run.sh")+scInstance)
			if scFind(ds, "script_security not enabled. There are insecure scripts.") == nil || ds.ExitCode() != ExitScriptSecurity {
				t.Fatalf("want the violation with insecure scripts:%s", gdDump(ds))
			}
			if e := scFind(ds, c.why); e == nil || !e.Extra || e.Line != 2 {
				t.Errorf("want an extra finding on line 2 naming %q:%s", c.why, gdDump(ds))
			}
			// Run as a non-root user, the path is not checked.
			_, ds = scLoad(t, fsys, scGlobal(true, "nobody")+scScript("/opt/chk/run.sh")+scInstance)
			if ds.ExitCode() != 0 {
				t.Errorf("as nobody: exit %d:%s", ds.ExitCode(), gdDump(ds))
			}
		})
	}
}

func TestScriptUsers(t *testing.T) {
	fsys := newScFS()
	// No keepalived_script user, no script_user: the vrrp_script is removed.
	cfg, ds := scLoad(t, fsys, scGlobal(true, "")+scScript("/usr/bin/true")+scInstance)
	if !gdHas(ds, 7, "Unable to set default user keepalived_script for script") ||
		!gdHas(ds, 7, "Unable to set default user for vrrp script chk - removing") || !cfg.Scripts[0].Removed {
		t.Errorf("default user missing:%s", gdDump(ds))
	}
	// A vrrp_script without script.
	cfg, _ = scLoad(t, fsys, "vrrp_script chk {\n    interval 2\n}\n"+scInstance)
	if !cfg.Scripts[0].Removed {
		t.Error("no script: want Removed")
	}
	// An unknown user keyword.
	cfg, ds = scLoad(t, fsys, scGlobal(true, "root")+"vrrp_script chk {\n    script /usr/bin/true\n    user nosuch\n}\n"+scInstance)
	if !gdHas(ds, 7, "Unable to set uid/gid for script '/usr/bin/true'") || !cfg.Scripts[0].Removed {
		t.Errorf("unknown user:%s", gdDump(ds))
	}
	// script_user nobody: keepalived 2.2.7 kills itself; we accept it.
	_, ds = scLoad(t, fsys, scGlobal(true, "nobody")+scScript("/usr/bin/true")+scInstance)
	if ds.ExitCode() != 0 {
		t.Errorf("script_user nobody: exit %d:%s", ds.ExitCode(), gdDump(ds))
	}
	// A notify script's default user is looked up where it is written.
	_, ds = scLoad(t, fsys, scGlobal(true, "")+`vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    notify_master /usr/bin/true
    virtual_ipaddress {
        192.168.200.16
    }
}
`)
	if !gdHas(ds, 7, "Unable to set default user keepalived_script for script") {
		t.Errorf("notify default user:%s", gdDump(ds))
	}
}

func TestVRRPScriptValues(t *testing.T) {
	fsys := newScFS()
	for _, c := range []struct{ line, msg string }{
		{"interval 0", "(chk): vrrp script interval must be greater than 0, setting to 1"},
		{"interval 1.5", "(chk): vrrp script interval '1.5' must be between 1 and 4294 - ignoring"},
		{"timeout 0", "(chk): vrrp script timeout must be greater than 0, setting to 1"},
		{"weight 300", "vrrp_script chk weight 300 must be in [-253, 253]"},
		{"weight 10 bogus", "vrrp_script chk unknown weight option bogus"},
		{"rise 0", "(chk): vrrp script rise value '0' invalid, defaulting to 1"},
		{"fall -1", "(chk): vrrp script fall value '-1' invalid, defaulting to 1"},
	} {
		_, ds := scLoad(t, fsys, scGlobal(true, "root")+"vrrp_script chk {\n    script /usr/bin/true\n    "+c.line+"\n}\n"+scInstance)
		if !gdHas(ds, 7, c.msg) {
			t.Errorf("%s: want %q on line 7:%s", c.line, c.msg, gdDump(ds))
		}
	}
}
