package check

import (
	"os"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the package starts has an owner that stops it: none may
// outlive the tests.
// With farmEnv set, the binary is a benchmark's server farm instead.
func TestMain(m *testing.M) {
	if n, err := strconv.Atoi(os.Getenv(farmEnv)); err == nil {
		serveFarm(n)
		return
	}
	goleak.VerifyTestMain(m)
}
