package track

import (
	"strconv"
	"strings"
	"testing"
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
