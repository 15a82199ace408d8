package stacktest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// fatalRecorder is a testing.TB whose Fatal stops only the calling
// goroutine and keeps the message.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalRecorder) Helper() {}

// A test whose server is missing fails (never skips) and names the command
// that starts the stack.
func TestMissingServerNamesTheStartCommand(t *testing.T) {
	stacktest.Integration(t)
	t.Setenv("VC_REDIS_ADDR", "127.0.0.1:1") // nothing listens on port 1
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		stacktest.Redis(rec)
	}()
	<-done
	if !strings.Contains(rec.msg, "scripts/stack up") || !strings.Contains(rec.msg, "Redis at 127.0.0.1:1") {
		t.Errorf("message %q does not name the server and `scripts/stack up`", rec.msg)
	}
}
