//go:build linux

package kernel

import (
	"bytes"
	"testing"
)

func TestParseControlGarbage(t *testing.T) {
	// Garbage and short buffers must not panic.
	for _, b := range [][]byte{nil, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 40), make([]byte, 64)} {
		_ = parseControl(b)
	}
}
