package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// runMainEnv makes the test binary run writesvc's main instead of the
// tests: the process tests start real writesvc processes from it, without a
// separate go build.
const runMainEnv = "WRITESVC_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}
