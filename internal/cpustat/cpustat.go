// Package cpustat reads how much CPU time a process has used and finds the
// local stack's server processes, so a benchmark can report a per-core
// figure — operations per CPU-second of the process that did the work —
// measured around its own load, in the same run (docs/capacity.md).
//
// Linux only: it reads /proc. A process's CPU time is utime + stime of
// /proc/<pid>/stat (every thread, in clock ticks of `getconf CLK_TCK`).
// A server is found by the port it listens on (the address in the stack's
// environment), so it is the server the benchmark talks to, whichever
// stack directory started it.
package cpustat

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process is one server process of the stack.
type Process struct {
	Name string // redis, mariadb, kafka, cassandra, or what the caller chose
	PID  int
}

func (p Process) String() string { return fmt.Sprintf("%s (pid %d)", p.Name, p.PID) }

// CPU is the CPU time p has used so far, user and system, all threads.
func (p Process) CPU() (time.Duration, error) { return Of(p.PID) }

var (
	tickOnce sync.Once
	tick     time.Duration
)

// clockTick is one clock tick of /proc/<pid>/stat: 1 s / `getconf CLK_TCK`
// (100 on Linux; 100 too when getconf is missing).
func clockTick() time.Duration {
	tickOnce.Do(func() {
		hz := 100
		if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
				hz = n
			}
		}
		tick = time.Second / time.Duration(hz)
	})
	return tick
}

// Of is the CPU time process pid has used so far (utime + stime).
func Of(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(string(b))
}

// parseStat reads utime and stime, fields 14 and 15 of a stat line. The
// command name (field 2) is in parentheses and may hold spaces or
// parentheses itself: fields are counted after its last ')'.
func parseStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("cpustat: no command name in stat line")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("cpustat: short stat line (%d fields after the name)", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := cmp.Or(err1, err2); err != nil {
		return 0, fmt.Errorf("cpustat: %w", err)
	}
	return time.Duration(utime+stime) * clockTick(), nil
}

// Listener is the process listening on addr (host:port; only the port is
// matched, on IPv4 or IPv6).
func Listener(name, addr string) (Process, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Process{}, err
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return Process{}, fmt.Errorf("cpustat: port of %q: %w", addr, err)
	}
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningInodes(file, n, inodes); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Process{}, err
		}
	}
	if len(inodes) == 0 {
		return Process{}, fmt.Errorf("cpustat: nothing listens on port %d (%s)", n, name)
	}
	pid, err := ownerOf(inodes)
	if err != nil {
		return Process{}, fmt.Errorf("cpustat: %s on port %d: %w", name, n, err)
	}
	return Process{Name: name, PID: pid}, nil
}

// listeningInodes adds the socket inodes of file (/proc/net/tcp or tcp6)
// in state LISTEN (0A) on port.
func listeningInodes(file string, port int, into map[string]bool) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "0A" {
			continue
		}
		_, hexPort, ok := strings.Cut(fs[1], ":")
		if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
			into[fs[9]] = true
		}
	}
	return sc.Err()
}

// ownerOf is the process holding one of the socket inodes.
func ownerOf(inodes map[string]bool) (int, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*/fd")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		fds, err := os.ReadDir(d)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(d, fd.Name()))
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
				return strconv.Atoi(filepath.Base(filepath.Dir(d)))
			}
		}
	}
	return 0, errors.New("no readable process holds the listening socket")
}

// The stack's servers and the environment variable holding each one's
// address (.stack/env), with the default address.
var servers = map[string][2]string{
	"redis":     {"VC_REDIS_ADDR", "127.0.0.1:6379"},
	"mariadb":   {"VC_MYSQL_DSN", "tcp(127.0.0.1:3306)"},
	"kafka":     {"VC_KAFKA_BROKERS", "127.0.0.1:9092"},
	"cassandra": {"VC_CASSANDRA_HOSTS", "127.0.0.1:9042"},
}

// Server finds one of the stack's servers — redis (redis-server), mariadb
// (mariadbd), kafka or cassandra (their java processes) — by the first
// address of its variable in the environment. A list of several addresses
// (a Redis Cluster) is measured by Servers.
func Server(name string) (Process, error) {
	ps, err := Servers(name)
	if err != nil {
		return Process{}, err
	}
	return ps[0], nil
}

// Servers finds every process of a stack server whose variable lists
// several addresses (VC_REDIS_ADDR of a Redis Cluster), one per address.
func Servers(name string) ([]Process, error) {
	s, ok := servers[name]
	if !ok {
		return nil, fmt.Errorf("cpustat: unknown server %q (redis, mariadb, kafka, cassandra)", name)
	}
	var ps []Process
	for _, addr := range addrs(name, cmp.Or(os.Getenv(s[0]), s[1])) {
		p, err := Listener(name, addr)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// addrs reads the host:port list of a server's variable; a MySQL DSN
// names its address as tcp(host:port).
func addrs(name, v string) []string {
	if name == "mariadb" {
		if _, rest, ok := strings.Cut(v, "tcp("); ok {
			a, _, _ := strings.Cut(rest, ")")
			return []string{a}
		}
		return []string{"127.0.0.1:3306"}
	}
	var out []string
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			if _, _, err := net.SplitHostPort(a); err != nil { // a host without a port
				a = net.JoinHostPort(a, map[string]string{"cassandra": "9042", "kafka": "9092", "redis": "6379"}[name])
			}
			out = append(out, a)
		}
	}
	return out
}

// Meter measures the CPU time a set of processes uses between Start and
// Stop (several intervals add up).
type Meter struct {
	procs []Process
	start []time.Duration
	total []time.Duration
}

// NewMeter measures procs.
func NewMeter(procs ...Process) *Meter {
	return &Meter{procs: procs, start: make([]time.Duration, len(procs)), total: make([]time.Duration, len(procs))}
}

// Start begins an interval.
func (m *Meter) Start() error {
	for i, p := range m.procs {
		c, err := p.CPU()
		if err != nil {
			return fmt.Errorf("cpustat: %s: %w", p, err)
		}
		m.start[i] = c
	}
	return nil
}

// Stop ends an interval and adds its CPU time to the totals.
func (m *Meter) Stop() error {
	for i, p := range m.procs {
		c, err := p.CPU()
		if err != nil {
			return fmt.Errorf("cpustat: %s: %w", p, err)
		}
		m.total[i] += c - m.start[i]
	}
	return nil
}

// Total is the CPU time of every measured process over every interval.
func (m *Meter) Total() time.Duration {
	var t time.Duration
	for _, x := range m.total {
		t += x
	}
	return t
}

// PerCPUSecond is ops divided by the CPU-seconds the processes used (0
// when they used none).
func (m *Meter) PerCPUSecond(ops float64) float64 {
	if s := m.Total().Seconds(); s > 0 {
		return ops / s
	}
	return 0
}

// Around runs f with every meter measuring: started before it, stopped
// after.
func Around(f func(), meters ...*Meter) error {
	for _, m := range meters {
		if err := m.Start(); err != nil {
			return err
		}
	}
	f()
	for _, m := range meters {
		if err := m.Stop(); err != nil {
			return err
		}
	}
	return nil
}
