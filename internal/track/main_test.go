package track

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine a Tracker starts must have ended once Stop returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
