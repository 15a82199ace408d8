// Package proctest runs a service binary as a real process in a test:
// built with go build, started with an environment and flags, its log lines
// captured, waited on until it listens or is ready, stopped with SIGTERM or
// killed with SIGKILL, and killed when the test ends if still running.
//
// A process's log is what it writes to stderr and stdout; the services log
// JSON lines, which Logged and Addr read ("listening" with listener and
// addr). stacktest.Build builds one binary into the test's temporary
// directory, stacktest.FreeAddr picks a port for one; BuildInto builds
// several binaries with one go build.
package proctest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stack"
)

// StartTimeout bounds how long Addr and WaitReady wait for a process that
// starts on two busy cores.
const StartTimeout = 60 * time.Second

// StopTimeout bounds how long a process may take to exit after a signal.
const StopTimeout = 30 * time.Second

// failedLogTail is how much of a process's log a failed test prints.
const failedLogTail = 8 << 10

// BuildInto compiles the main packages pkgs of this repository ("./cdc",
// "./syncer" …) into dir with one go build; each binary is named after its
// package's directory.
func BuildInto(dir string, pkgs ...string) error {
	root, err := stack.RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

// Proc is one running (or ended) process.
type Proc struct {
	Name string // for messages: "cdc#2", "syncer A"

	t      testing.TB
	cmd    *exec.Cmd
	log    logBuffer
	exited chan struct{} // closed once the process has ended
	err    error         // what Wait returned; set before exited closes
}

// Start runs bin with args, in this process's environment with the
// variables env added (a later value of a variable wins). The process is
// killed when the test ends if it still runs, and its log is printed (its
// last 8 KiB) if the test failed.
func Start(t testing.TB, name, bin string, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, t: t, cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", name, tail(p.Log(), failedLogTail))
		}
	})
	return p
}

// Run runs bin with args and env (as Start does) to its end, failing the
// test after StopTimeout, and returns its exit code and its output (stdout
// and stderr as written): for a command, not a service.
func Run(t testing.TB, bin string, env []string, args ...string) (code int, output string) {
	t.Helper()
	p := Start(t, filepath.Base(bin), bin, env, args...)
	_ = p.Wait(StopTimeout)
	return p.ExitCode(), p.Log()
}

// Log returns everything the process logged so far.
func (p *Proc) Log() string { return p.log.String() }

// Logged returns the first JSON log line with message msg whose fields
// include the pairs kv (key, value as printed), or nil.
func (p *Proc) Logged(msg string, kv ...string) map[string]any {
	for _, line := range strings.Split(p.Log(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
			continue
		}
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			ok = ok && fmt.Sprint(m[kv[i]]) == kv[i+1]
		}
		if ok {
			return m
		}
	}
	return nil
}

// Addr waits for the process to log that listener ("api", "admin") is
// listening and returns its address (host:port). It fails the test if the
// process ends first or takes longer than StartTimeout.
func (p *Proc) Addr(listener string) string {
	p.t.Helper()
	var addr string
	p.waitStarting(func() (bool, string) {
		if l := p.Logged("listening", "listener", listener); l != nil {
			addr, _ = l["addr"].(string)
		}
		return addr != "", "no " + listener + " listener logged"
	})
	return addr
}

// WaitReady waits until GET url answers 200 (a /readyz), failing the test
// if the process ends first or takes longer than StartTimeout.
func (p *Proc) WaitReady(url string) {
	p.t.Helper()
	p.waitStarting(func() (bool, string) {
		code, body := Get(url)
		return code == http.StatusOK, fmt.Sprintf("%s: %d %s", url, code, body)
	})
}

// waitStarting polls cond until it holds, failing the test with cond's
// last word and the log if the process ends first or StartTimeout passes.
func (p *Proc) waitStarting(cond func() (ok bool, last string)) {
	p.t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited while starting (%s): %v\n%s\n(is the stack up? scripts/stack up)", p.Name, last, p.err, tail(p.Log(), failedLogTail))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not started after %v (%s)\n%s", p.Name, StartTimeout, last, tail(p.Log(), failedLogTail))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Signal sends sig (nothing if the process has ended) and waits for the
// process to end, failing the test after StopTimeout. It returns what the
// process's Wait returned: nil for exit status 0.
func (p *Proc) Signal(sig syscall.Signal) error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.err
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("%s: %v: %v", p.Name, sig, err)
	}
	return p.Wait(StopTimeout)
}

// Stop ends the process with SIGTERM: see Signal.
func (p *Proc) Stop() error { p.t.Helper(); return p.Signal(syscall.SIGTERM) }

// Kill ends the process with SIGKILL: no shutdown code runs. See Signal.
func (p *Proc) Kill() error { p.t.Helper(); return p.Signal(syscall.SIGKILL) }

// Wait waits for the process to end on its own, failing the test after
// timeout, and returns what its Wait returned.
func (p *Proc) Wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %v\n%s", p.Name, timeout, tail(p.Log(), failedLogTail))
	}
	return p.err
}

// ExitCode is the exit status of the ended process, -1 if a signal ended
// it (or it still runs).
func (p *Proc) ExitCode() int {
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Exited is closed once the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// logBuffer is a process's stdout and stderr, written by exec's copying
// goroutine and read by the test.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
