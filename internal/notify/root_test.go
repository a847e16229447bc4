package notify

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/runner"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// nobody is the unprivileged user the root tests run scripts as.
func nobody(t *testing.T) *user.User {
	t.Helper()
	testenv.RequireRoot(t)
	u, err := user.Lookup("nobody")
	if err != nil {
		testenv.Unavailable(t, "no user nobody here")
	}
	return u
}

// worldDir is a directory any user may write in (t.TempDir's is root's
// alone).
func worldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "notify-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A notify script runs as its own user, through runner.
func TestScriptRunsAsItsUser(t *testing.T) {
	u := nobody(t)
	out := filepath.Join(worldDir(t), "id")
	line := "id -u >" + out
	s := ScriptOf(config.Script{Cmd: line, User: "nobody"}, []string{"root"}) // no Args: through the shell
	if s.Err != nil {
		t.Fatal(s.Err)
	}
	n := New(Instance, "VI_1", Options{})
	n.Notify(Event{What: "MASTER", Scripts: []Script{s}})
	n.Stop()
	if got := strings.TrimSpace(readFile(out)); got != u.Uid {
		t.Errorf("the script ran as uid %q, want nobody's %s", got, u.Uid)
	}
}

// A FIFO the daemon creates is given to its user; one found owned by
// someone else than the daemon or the FIFO's user is refused (keepalived's
// fifo_open: it may have been planted).
func TestFIFOOwnership(t *testing.T) {
	u := nobody(t)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := t.TempDir()
	owned := filepath.Join(dir, "owned")
	owner, err := runner.Credential([]string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenFIFO(nil, owned, owner)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(owned, &st); err != nil || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("created FIFO owned by %d:%d (%v), want %d:%d", st.Uid, st.Gid, err, uid, gid)
	}
	f.Close()

	planted := filepath.Join(dir, "planted")
	if err := unix.Mkfifo(planted, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(planted, uid, gid); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenFIFO(nil, planted, nil); err == nil {
		f.Close()
		t.Error("a FIFO owned by nobody was accepted for a daemon whose FIFO user is root")
	}
	f, err = OpenFIFO(nil, planted, owner)
	if err != nil {
		t.Errorf("a FIFO owned by its user was refused: %v", err)
	} else {
		f.Close()
	}
	if !fileExists(planted) {
		t.Error("a FIFO the daemon did not create was removed")
	}
}
