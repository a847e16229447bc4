// Package testenv holds what tests share about their environment: a test
// that needs root (or a command) skips without it, except under CI=true,
// where a skip would hide a missing dependency and fails instead.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireRoot skips (fails in CI) unless the test runs as root and has
// every command named.
func RequireRoot(t testing.TB, commands ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "this test needs root")
	}
	for _, c := range commands {
		if _, err := exec.LookPath(c); err != nil {
			Unavailable(t, "this test needs "+c)
		}
	}
}

// Unavailable skips the test for why, or fails it under CI=true.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: not skipping)")
	}
	t.Skip(why)
}

// RequireThrowaway skips the test unless CI=true: it changes the machine
// beyond what a test may change on a developer's (it installs a package,
// for instance), which CI's throwaway machine allows. why says what.
func RequireThrowaway(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "true" {
		t.Skip(why + ": runs only under CI=true, on a throwaway machine")
	}
}
