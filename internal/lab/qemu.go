package lab

// QEMU guests for what the host kernel cannot do (IPVS: our machines'
// kernels are built without it): Debian's cloud kernel, which has IPVS as
// modules, booted under QEMU's software emulation (TCG; KVM stalls on
// these machines) with an initramfs made here of a static busybox, a few
// host binaries with their libraries, the modules asked for and the files
// under test; /init runs a script and powers the guest off. The guest has
// no network interface but lo: tests build theirs from namespaces and
// veth pairs inside it. See shared/recipes/ipvs-in-qemu for the recipe
// this follows.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Guest is a QEMU guest to boot once.
type Guest struct {
	// Kernel is the kernel version (a directory of /lib/modules with a
	// /boot/vmlinuz-VERSION); "" picks the newest *-cloud-amd64.
	Kernel string
	// Modules are loaded at boot, with their dependencies first
	// (modules.dep).
	Modules []string
	// Bins are host executables copied into the guest's /sbin (before
	// busybox's applets in PATH) with their shared libraries: ip
	// (iproute2, for namespaces), ipvsadm.
	Bins []string
	// Files are copied into the guest: guest path -> host path, mode
	// kept.
	Files map[string]string
	// Script is what /init runs once /proc, /sys, /dev and /tmp are
	// mounted, the modules loaded and lo up; the guest powers off after
	// it. PATH is /sbin:/bin.
	Script string
	// Memory is the guest's memory in MiB (512 if 0).
	Memory int
	// CPUs is the guest's number of virtual CPUs (-smp; 1 if 0). With
	// more than one, TCG runs one host thread per vCPU (thread=multi).
	CPUs int
	// ICount, if set, is QEMU's -icount option (such as
	// "shift=0,sleep=off"): the guest's clocks advance with the
	// instructions it executes, not with the host's time, so that what
	// the guest measures does not depend on how much of the host QEMU
	// gets. It runs the vCPUs in turn on one host thread.
	ICount string
	// KernelArgs are added to the kernel's command line (console=ttyS0
	// panic=-1 quiet).
	KernelArgs []string
	// Console, if set, also receives the guest's console as it runs (Run
	// returns all of it at the end either way).
	Console io.Writer
}

// Tools the host needs (scripts/install-test-deps.sh installs them).
const (
	QEMUBinary = "qemu-system-x86_64"
	Busybox    = "/bin/busybox" // busybox-static's: it is copied alone
)

// QEMUAvailable says what the host lacks to boot a guest ("" if nothing).
func QEMUAvailable() string {
	if _, err := exec.LookPath(QEMUBinary); err != nil {
		return QEMUBinary + " (apt install qemu-system-x86)"
	}
	if out, err := exec.Command("ldd", Busybox).CombinedOutput(); err == nil || !bytes.Contains(out, []byte("not a dynamic")) {
		return "a static " + Busybox + " (apt install busybox-static)"
	}
	if _, err := CloudKernel(); err != nil {
		return err.Error() + " (apt install linux-image-cloud-amd64)"
	}
	return ""
}

// CloudKernel is the newest Debian cloud kernel installed: its version
// has modules in /lib/modules and an image in /boot.
func CloudKernel() (string, error) {
	entries, _ := os.ReadDir("/lib/modules")
	var found []string
	for _, e := range entries {
		v := e.Name()
		if strings.HasSuffix(v, "-cloud-amd64") {
			if _, err := os.Stat("/boot/vmlinuz-" + v); err == nil {
				found = append(found, v)
			}
		}
	}
	if len(found) == 0 {
		return "", errors.New("no Debian cloud kernel (/boot/vmlinuz-*-cloud-amd64)")
	}
	slices.SortFunc(found, versionCompare)
	return found[len(found)-1], nil
}

// versionCompare orders versions as sort -V does for these names:
// numbers by value, the rest as text.
func versionCompare(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' })
	}
	x, y := split(a), split(b)
	for i := 0; i < len(x) && i < len(y); i++ {
		m, errm := strconv.Atoi(x[i])
		n, errn := strconv.Atoi(y[i])
		if errm == nil && errn == nil {
			if c := cmp.Compare(m, n); c != 0 {
				return c
			}
		} else if c := strings.Compare(x[i], y[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(x), len(y))
}

// Run builds the guest's initramfs in dir, boots it and returns its
// console output once it powers off (or ctx ends: the output so far,
// and the error). QEMU exits 0 whatever the guest did: the caller reads
// the verdict in the output.
func (g *Guest) Run(ctx context.Context, dir string) ([]byte, error) {
	kernel := g.Kernel
	if kernel == "" {
		var err error
		if kernel, err = CloudKernel(); err != nil {
			return nil, err
		}
	}
	initrd := filepath.Join(dir, "initrd.cpio")
	if err := g.buildInitramfs(kernel, initrd); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	mem := g.Memory
	if mem == 0 {
		mem = 512
	}
	accel, cpus := "tcg", max(g.CPUs, 1)
	if cpus > 1 && g.ICount == "" {
		accel = "tcg,thread=multi"
	}
	args := []string{"-accel", accel, "-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(mem),
		"-nographic", "-no-reboot", "-nic", "none", "-kernel", "/boot/vmlinuz-" + kernel, "-initrd", initrd,
		"-append", strings.Join(append([]string{"console=ttyS0", "panic=-1", "quiet"}, g.KernelArgs...), " ")}
	if g.ICount != "" {
		args = append(args, "-icount", g.ICount)
	}
	cmd := exec.CommandContext(ctx, QEMUBinary, args...)
	var buf bytes.Buffer
	var out io.Writer = &buf
	if g.Console != nil {
		out = io.MultiWriter(&buf, g.Console)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("the guest did not power off: %w", ctx.Err())
	}
	return buf.Bytes(), err
}

// initScript is the guest's /init.
const initScript = `#!/bin/sh
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko || echo "insmod $m FAILED"; done
/sbin/ip link set lo up
echo "=== guest up after $(cut -d' ' -f1 /proc/uptime)s"
/bin/sh /guest.sh
echo "=== guest done after $(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
`

// buildInitramfs writes the guest's root file system as an uncompressed
// cpio archive (the kernel unpacks it without spending emulated time on
// decompression).
func (g *Guest) buildInitramfs(kernel, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := newCpio(f)
	for _, d := range []string{"bin", "sbin", "proc", "sys", "dev", "tmp", "run", "etc", "lib", "lib/modules", "lib64", "usr", "var"} {
		w.dir(d)
	}
	if err := w.fileFrom("bin/busybox", Busybox); err != nil {
		return err
	}
	applets, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, a := range strings.Fields(string(applets)) {
		if a != "busybox" {
			w.symlink("bin/"+a, "busybox")
		}
	}
	libs := map[string]bool{}
	for _, b := range g.Bins {
		host, err := exec.LookPath(b)
		if err != nil {
			return err
		}
		if err := w.fileFrom("sbin/"+filepath.Base(host), host); err != nil {
			return err
		}
		ls, err := sharedLibraries(host)
		if err != nil {
			return err
		}
		for _, l := range ls {
			libs[l] = true
		}
	}
	for _, l := range slices.Sorted(maps.Keys(libs)) {
		w.parents(l[1:])
		if err := w.fileFrom(l[1:], l); err != nil {
			return err
		}
	}
	order, err := moduleOrder(kernel, g.Modules)
	if err != nil {
		return err
	}
	var names []string
	for _, m := range order {
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(filepath.Base(m), ".xz"), ".zst"), ".ko")
		data, err := moduleData(filepath.Join("/lib/modules", kernel, m))
		if err != nil {
			return err
		}
		w.file("lib/modules/"+name+".ko", 0o644, data)
		names = append(names, name)
	}
	w.file("lib/modules/order", 0o644, []byte(strings.Join(names, "\n")+"\n"))
	for _, guest := range slices.Sorted(maps.Keys(g.Files)) {
		rel := strings.TrimPrefix(guest, "/")
		w.parents(rel)
		if err := w.fileFrom(rel, g.Files[guest]); err != nil {
			return err
		}
	}
	w.file("init", 0o755, []byte(initScript))
	w.file("guest.sh", 0o755, []byte(g.Script))
	if err := w.close(); err != nil {
		return err
	}
	return f.Close()
}

// sharedLibraries are the libraries ldd says a binary loads (with the
// dynamic loader), as absolute paths.
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, w := range strings.Fields(line) {
			if strings.HasPrefix(w, "/") {
				libs = append(libs, w)
			}
		}
	}
	return libs, nil
}

// moduleOrder is the modules' files (relative to /lib/modules/KERNEL),
// each after what it depends on, from modules.dep.
func moduleOrder(kernel string, modules []string) ([]string, error) {
	f, err := os.Open(filepath.Join("/lib/modules", kernel, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	byName := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		file, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[file] = strings.Fields(rest)
		base := filepath.Base(file)
		name := base[:strings.Index(base, ".ko")]
		byName[name] = file
		byName[strings.ReplaceAll(name, "-", "_")] = file
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var order []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(file string) {
		if seen[file] {
			return
		}
		seen[file] = true
		for _, d := range deps[file] {
			visit(d)
		}
		order = append(order, file)
	}
	for _, m := range modules {
		file, ok := byName[m]
		if !ok {
			return nil, fmt.Errorf("kernel %s has no module %s", kernel, m)
		}
		visit(file)
	}
	return order, nil
}

// moduleData is a module's object, decompressed.
func moduleData(path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".xz"):
		return exec.Command("xz", "-dc", path).Output()
	case strings.HasSuffix(path, ".zst"):
		return exec.Command("zstd", "-dc", path).Output()
	}
	return os.ReadFile(path)
}

// cpio writes a "newc" archive, the initramfs format.
type cpio struct {
	w    *bufio.Writer
	ino  int
	dirs map[string]bool
	err  error
}

func newCpio(w io.Writer) *cpio { return &cpio{w: bufio.NewWriter(w), dirs: map[string]bool{}} }

func (c *cpio) entry(name string, mode uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(hdr + name + "\x00"))
	c.pad(len(hdr) + len(name) + 1)
	c.write(data)
	c.pad(len(data))
}

func (c *cpio) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *cpio) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpio) dir(name string) {
	if !c.dirs[name] {
		c.dirs[name] = true
		c.entry(name, 0o040755, nil)
	}
}

// parents makes the directories of a path.
func (c *cpio) parents(path string) {
	var p string
	for _, part := range strings.Split(filepath.Dir(path), "/") {
		if part == "." || part == "" {
			continue
		}
		p = filepath.Join(p, part)
		c.dir(p)
	}
}

func (c *cpio) file(name string, perm os.FileMode, data []byte) {
	c.entry(name, 0o100000|uint32(perm.Perm()), data)
}

func (c *cpio) symlink(name, target string) { c.entry(name, 0o120777, []byte(target)) }

// fileFrom copies a host file (its target, if a symlink) with its mode.
func (c *cpio) fileFrom(name, host string) error {
	data, err := os.ReadFile(host)
	if err != nil {
		return err
	}
	st, err := os.Stat(host)
	if err != nil {
		return err
	}
	c.file(name, st.Mode(), data)
	return nil
}

func (c *cpio) close() error {
	c.entry("TRAILER!!!", 0, nil)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

// BuildStatic builds a package of the module as a static binary for a
// guest (CGO_ENABLED=0, stripped): a command with `go build`, or with
// test true the package's test binary (`go test -c`) built with tags.
func BuildStatic(pkg, out string, test bool, tags ...string) error {
	args := []string{"build"}
	if test {
		args = []string{"test", "-c"}
	}
	args = append(args, "-ldflags=-s -w", "-o", out) // not -trimpath: it would miss the build cache
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}
