package daemon

import (
	"runtime/metrics"
	"testing"
	"time"
)

func releasedBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var startGarbage [][]byte

// The memory a start used for a moment goes back to the system once it
// has settled, not minutes later.
func TestMemoryReturnerGivesBackWhatAStartUsed(t *testing.T) {
	for range 64 {
		startGarbage = append(startGarbage, make([]byte, 1<<20))
	}
	startGarbage = nil
	before := releasedBytes()
	var m memoryReturner
	defer m.stop()
	m.after(10 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for releasedBytes() < before+32<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("released %d MiB after the start settled, want the 64 MiB it used", (int64(releasedBytes())-int64(before))>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A reload reschedules the return; stop cancels it and waits.
func TestMemoryReturnerRescheduledAndStopped(t *testing.T) {
	var m memoryReturner
	m.after(time.Hour)
	m.after(time.Hour)
	done := make(chan struct{})
	go func() { m.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stop waited for a cancelled return")
	}
	m.after(time.Millisecond) // after stop: nothing scheduled
	if m.timer != nil {
		t.Fatal("a return was scheduled after stop")
	}
}
