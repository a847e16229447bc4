package track

import (
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

func TestFileStatusFollowsKeepalivedsRules(t *testing.T) {
	tests := []struct {
		value     int64
		weight    int
		reverse   bool
		wantFault bool
		wantDelta int
	}{
		{0, 0, false, false, 0}, // weight 0: zero is fine,
		{1, 0, false, true, 0},  // anything else is FAULT
		{-3, 0, false, true, 0},
		{0, 0, true, true, 0}, // reverse: zero is FAULT
		{5, 0, true, false, 0},
		{1, -60, false, false, -60}, // value × weight
		{4, -60, false, false, -240},
		{5, -60, false, true, 0}, // -300: at or below -254 is FAULT
		{-1, -60, false, false, 60},
		{2, 10, true, false, -20},     // reverse negates
		{300, 1, false, false, 253},   // at most 253
		{-1, 254, false, true, 0},     // weight 254 lets -1 mean FAULT
		{-1, 253, false, false, -253}, // -253 is not yet FAULT
		{math.MaxInt32 + 1, 254, false, false, 253},
		{math.MinInt32, 254, false, true, 0},
	}
	for _, tt := range tests {
		fault, delta := fileStatus(tt.value, tt.weight, tt.reverse)
		if fault != tt.wantFault || delta != tt.wantDelta {
			t.Errorf("value %d weight %d reverse %v: fault %v delta %d, want %v %d",
				tt.value, tt.weight, tt.reverse, fault, delta, tt.wantFault, tt.wantDelta)
		}
	}
}

func TestCStrtolReadsLikeC(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{"42", 42, true},
		{"  \t-7\n", -7, true},
		{"+3", 3, true},
		{"0x1f", 31, true},
		{"0X1F junk", 31, true},
		{"017", 15, true}, // octal, as strtol with base 0
		{"09", 0, true},   // '9' is no octal digit
		{"0xg", 0, true},
		{"12abc", 12, true},
		{"abc", 0, true},
		{"", 0, true},
		{"-", 0, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", math.MaxInt64, false},
		{"-9223372036854775809", math.MinInt64, false},
	}
	for _, tt := range tests {
		got, ok := cStrtol(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("cStrtol(%q) = %d %v, want %d %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestReadTrackFileValues(t *testing.T) {
	dir := t.TempDir()
	if v, ok := readTrackFile(kernelFiles{}, filepath.Join(dir, "missing")); v != 0 || !ok {
		t.Errorf("a missing file reads %d %v, want 0", v, ok)
	}
	if v, ok := readTrackFile(kernelFiles{}, dir); v != 0 || !ok {
		t.Errorf("a directory reads %d %v, want 0", v, ok)
	}
	tests := []struct {
		text   string
		want   int64
		wantOK bool
	}{
		{"1\n", 1, true},
		{"", 0, true},
		{"junk", 0, true},
		{"2147483648", math.MaxInt32 + 1, true}, // keepalived accepts INT32_MAX+1
		{"-2147483648", math.MinInt32, true},
		{"-2147483649", 0, false}, // out of range: ignored
		{"99999999999999999999", 0, false},
		{strings.Repeat(" ", 126) + "7", 7, true},
		{strings.Repeat(" ", 127) + "7", 0, true}, // only 127 bytes are read
	}
	path := filepath.Join(dir, "f")
	for _, tt := range tests {
		if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		v, ok := readTrackFile(kernelFiles{}, path)
		if ok != tt.wantOK || (ok && v != tt.want) {
			t.Errorf("file %q reads %d %v, want %d %v", tt.text, v, ok, tt.want, tt.wantOK)
		}
	}
}

func loadConf(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true }})
	return cfg
}

// TestObjectsTakeTheResolvedTrackFiles: the runtime runs the blocks
// validation kept, as it resolved them (TestTrackFileSpecs in
// internal/config checks the reading).
func TestObjectsTakeTheResolvedTrackFiles(t *testing.T) {
	cfg := loadConf(t, `track_file plain {
    file /run/a
}
vrrp_track_file old {
    file /run/b
    weight -60 reverse
    init_file 5 overwrite
}
track_file nofile {
    weight 2
}
track_file plain {
    file /run/a2
}
`)
	objs := NewObjects(cfg)
	want := map[string]*config.TrackFileSpec{"plain": cfg.TrackFiles[0].Resolved, "old": cfg.TrackFiles[1].Resolved}
	if !reflect.DeepEqual(objs.files, want) || want["plain"] == nil || want["old"] == nil {
		t.Errorf("files %v, want the resolved %v", objs.files, want)
	}
	if s := objs.files["old"]; s.Weight != -60 || !s.Reverse || s.Init != config.TrackFileOverwrite || s.InitValue != 5 {
		t.Errorf("old: %+v", s)
	}
}

func TestInitTrackFileCreatesButKeepsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	path := filepath.Join(dir, "state")
	create := &config.TrackFileSpec{Name: "f", Path: path, Init: config.TrackFileCreate, InitValue: 3}
	if problem := initTrackFile(create, false); problem != "" || read(path) != "3\n" {
		t.Fatalf("init_file 3 on a missing file: %q %q, want \"3\\n\"", read(path), problem)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	os.WriteFile(path, []byte("7\n"), 0o644)
	if initTrackFile(create, false); read(path) != "7\n" {
		t.Errorf("init_file without overwrite changed an existing file: %q", read(path))
	}
	over := &config.TrackFileSpec{Name: "f", Path: path, Init: config.TrackFileOverwrite, InitValue: 0}
	if initTrackFile(over, true); read(path) != "7\n" {
		t.Errorf("init_file overwrite changed the file at a reload: %q", read(path))
	}
	if initTrackFile(over, false); read(path) != "0\n" {
		t.Errorf("init_file overwrite at start: %q, want \"0\\n\"", read(path))
	}
	if problem := initTrackFile(&config.TrackFileSpec{Name: "d", Path: dir, Init: config.TrackFileOverwrite}, false); !strings.Contains(problem, "it is not a regular file") {
		t.Errorf("init_file overwrite on a directory: %q, want keepalived's refusal", problem)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestTrackFileWeightsPerInstanceAndOwner(t *testing.T) {
	objs := &Objects{files: map[string]*config.TrackFileSpec{
		"dflt": {Name: "dflt", Weight: 1},
		"neg":  {Name: "neg", Weight: -60},
		"zero": {Name: "zero", Weight: 0, Reverse: true},
	}}
	refs := []config.TrackRef{{Name: "dflt"}, {Name: "neg", Weight: 5, HasWeight: true, Reverse: true}, {Name: "zero"}, {Name: "neg"}, {Name: "missing"}}
	got := fileRefs(refs, objs.files, false)
	want := []trackedLink{{name: "dflt", weight: 1}, {name: "neg", weight: 5, reverse: true}, {name: "zero", reverse: true}}
	if !equalLinks(got, want) {
		t.Errorf("track_file entries %v, want %v (an entry's weight overrides, a duplicate counts once)", got, want)
	}
	// The owner: weight 1 becomes 0, other weights are dropped.
	got = fileRefs(refs, objs.files, true)
	want = []trackedLink{{name: "dflt"}, {name: "zero", reverse: true}}
	if !equalLinks(got, want) {
		t.Errorf("owner's track_file entries %v, want %v", got, want)
	}
}

func equalLinks(a, b []trackedLink) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEvaluateCombinesAllTrackers(t *testing.T) {
	tr := &Tracking{base: 150,
		links:   []trackedLink{{name: "eth0"}},
		scripts: []trackedLink{{name: "chk", weight: -10}},
		files:   []trackedLink{{name: "f", weight: -60}, {name: "gone", weight: 0}},
		procs:   []trackedLink{{name: "web", weight: 20}, {name: "db"}},
	}
	st := trackState{up: map[string]bool{"eth0": true}, good: map[string]bool{"chk": true},
		files: map[string]int64{"f": 1}, procs: map[string]bool{"web": true, "db": true}}
	if fault, prio := tr.evaluate(st); fault || prio != 150-60+20 {
		t.Errorf("fault %v prio %d, want false %d", fault, prio, 150-60+20)
	}
	st.procs["web"], st.good["chk"] = false, false
	if fault, prio := tr.evaluate(st); fault || prio != 150-60-10 {
		t.Errorf("fault %v prio %d, want false %d", fault, prio, 150-60-10)
	}
	st.files["f"] = 5 // -300: FAULT
	if fault, _ := tr.evaluate(st); !fault {
		t.Error("a file value × weight at or below -254 must cause FAULT")
	}
	st.files["f"], st.procs["db"] = 0, false
	if fault, _ := tr.evaluate(st); !fault {
		t.Error("a weight-0 process out of quorum must cause FAULT")
	}
	st.procs["db"], st.files["gone"] = true, 1
	if fault, _ := tr.evaluate(st); !fault {
		t.Error("a weight-0 file holding 1 must cause FAULT")
	}
	delete(st.files, "gone") // not watched: ignored
	if fault, prio := tr.evaluate(st); fault || prio != 150-10 {
		t.Errorf("fault %v prio %d, want false %d", fault, prio, 150-10)
	}
}

// TestFileWatcherSeesWritesRenamesAndDeletes: the value follows the file
// as a user changes it: written in place, replaced by a rename, deleted
// (0), created again, renamed away (0); a file in a directory that does
// not exist is not tracked at all.
func TestFileWatcherSeesWritesRenamesAndDeletes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := os.WriteFile(path, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Through a symbolic link elsewhere the target's directory is watched,
	// as keepalived's realpath does.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	specs := []*config.TrackFileSpec{{Name: "direct", Path: path, Weight: 1}, {Name: "vialink", Path: link, Weight: 1},
		{Name: "nodir", Path: filepath.Join(dir, "no", "such"), Weight: 1}}
	out, done := make(chan fileValue, 16), make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	initial := watchFiles(slog.New(slog.NewTextHandler(io.Discard, nil)), kernelFiles{}, specs, out, done, &wg)
	if v, ok := initial["direct"]; !ok || v != 0 {
		t.Fatalf("the file starts at %d (watched %v), want 0", v, ok)
	}
	if _, ok := initial["nodir"]; ok {
		t.Fatal("a file whose directory does not exist must not be tracked")
	}
	expect := func(step string, want int64) {
		t.Helper()
		got := map[string]int64{}
		deadline := time.After(5 * time.Second)
		for got["direct"] != want || got["vialink"] != want {
			select {
			case fv := <-out:
				got[fv.name] = fv.value
			case <-deadline:
				t.Fatalf("%s: values %v, want %d for both names", step, got, want)
			}
		}
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("written with 1", 1)
	tmp := filepath.Join(dir, "tmp")
	os.WriteFile(tmp, []byte("3\n"), 0o644)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect("replaced by a rename", 3)
	os.WriteFile(path, []byte("-2"), 0o644)
	expect("written in place", -2)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expect("deleted", 0)
	os.WriteFile(path, []byte("2\n"), 0o644)
	expect("created again", 2)
	if err := os.Rename(path, tmp); err != nil {
		t.Fatal(err)
	}
	expect("renamed away", 0)
}
