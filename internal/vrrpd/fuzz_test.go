package vrrpd

import (
	"encoding/binary"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FuzzStrtol: a track_file's content, read as C's strtol. Never panics,
// and agrees with strconv wherever both read the whole text as a number.
func FuzzStrtol(f *testing.F) {
	for _, s := range []string{"0", "1", "-5", " 0x1f\n", "017", "9223372036854775808", "-9223372036854775808", "12abc", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := cStrtol(s)
		if strings.ContainsAny(s, "_bBoO+ \t\n\v\f\r") {
			return // spellings only one of the two accepts
		}
		want, err := strconv.ParseInt(s, 0, 64)
		if err == nil && (!ok || got != want) {
			t.Fatalf("cStrtol(%q) = %d, %v; strconv says %d", s, got, ok, want)
		}
	})
}

// FuzzParseProcStat: /proc/PID/stat lines, whatever a process names
// itself. Never panics; a name it returns lies between the parentheses.
func FuzzParseProcStat(f *testing.F) {
	for _, s := range []string{"1 (init) S 0 1", "42 (a) b) Z 1", "7 (x", ") (", "9 (sleep) R"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		comm, ok := parseProcStat(b)
		if ok && !strings.Contains(string(b), "("+comm+")") {
			t.Fatalf("parseProcStat(%q) = %q, not a parenthesised part of it", b, comm)
		}
	})
}

// FuzzParseProcEvent: messages from the kernel's proc connector, of any
// length and content. Never panics.
func FuzzParseProcEvent(f *testing.F) {
	hdr := make([]byte, cnMsgLen+procEventHdrLen)
	binary.NativeEndian.PutUint32(hdr[0:], netlink.CN_IDX_PROC)
	binary.NativeEndian.PutUint32(hdr[4:], netlink.CN_VAL_PROC)
	for _, what := range []uint32{netlink.PROC_EVENT_NONE, netlink.PROC_EVENT_FORK, netlink.PROC_EVENT_EXEC,
		netlink.PROC_EVENT_EXIT, netlink.PROC_EVENT_COMM} {
		m := append([]byte(nil), hdr...)
		binary.NativeEndian.PutUint32(m[cnMsgLen:], what)
		f.Add(uint16(unix.NLMSG_DONE), append(m, make([]byte, 24)...))
	}
	f.Fuzz(func(t *testing.T, typ uint16, data []byte) {
		parseProcEvent(syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ}, Data: data})
	})
}
