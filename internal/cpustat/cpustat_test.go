package cpustat

import (
	"net"
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis, utime 250, stime 50.
	line := "4242 (java (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 60 0 12345 0 0\n"
	got, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 300 * clockTick(); got != want {
		t.Errorf("parseStat: %v, want %v", got, want)
	}
	if _, err := parseStat("4242 (x) S 1 2"); err == nil {
		t.Error("a short line was accepted")
	}
}

func TestOfSelfGrows(t *testing.T) {
	before, err := Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMeter(Process{Name: "self", PID: os.Getpid()})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has counted at least a few clock ticks of it:
	// on a loaded box 100 ms of wall time can be less than one tick of CPU.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		if now, _ := Of(os.Getpid()); now >= before+5*clockTick() {
			break
		}
		for spin := time.Now().Add(10 * time.Millisecond); time.Now().Before(spin); {
		}
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	after, _ := Of(os.Getpid())
	if after <= before || m.Total() <= 0 {
		t.Errorf("CPU time did not grow over up to 10 s of spinning: %v → %v, meter %v", before, after, m.Total())
	}
}

func TestListenerFindsSelf(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := Listener("self", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != os.Getpid() {
		t.Errorf("Listener: pid %d, want %d", p.PID, os.Getpid())
	}
}

func TestAddrs(t *testing.T) {
	for _, c := range []struct{ name, v, want string }{
		{"mariadb", "u:p@tcp(127.0.0.1:4306)/db", "127.0.0.1:4306"},
		{"redis", "127.0.0.1:6380, 127.0.0.1:6381", "127.0.0.1:6380|127.0.0.1:6381"},
		{"cassandra", "127.0.0.2", "127.0.0.2:9042"},
	} {
		got := ""
		for i, a := range addrs(c.name, c.v) {
			if i > 0 {
				got += "|"
			}
			got += a
		}
		if got != c.want {
			t.Errorf("addrs(%s, %q) = %q, want %q", c.name, c.v, got, c.want)
		}
	}
}
