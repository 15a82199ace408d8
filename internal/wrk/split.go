package wrk

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// A Split gives the generator CPUs of its own: wrk runs on Gen (through
// taskset), and the processes under test (this one, and any Pin adds) on
// Servers. On a box of two cores sharing them, wrk and the handler compete
// for the same CPU time, so the generator's ceiling measured against a
// null handler is barely above what a real handler reaches; with one core
// each, the ceiling is wrk's own and every handler has the same one core.
type Split struct {
	Gen, Servers unix.CPUSet
	prev         map[int]unix.CPUSet // the affinity of each pinned process before
}

var (
	mu      sync.Mutex
	current *Split // the split Run uses; nil: wrk runs wherever the scheduler puts it
)

// SplitCPUs pins this process to every CPU it may use but the first, and
// makes Run start wrk on that first one. It fails on a box (or a cgroup)
// of one CPU, where there is nothing to split. Undo restores the affinity.
func SplitCPUs() (*Split, error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	if all.Count() < 2 {
		return nil, errors.New("one CPU: the generator cannot have one of its own")
	}
	s := &Split{Servers: all, prev: map[int]unix.CPUSet{}}
	for c := range 1024 {
		if all.IsSet(c) {
			s.Gen.Set(c)
			s.Servers.Clear(c)
			break
		}
	}
	if err := s.Pin(os.Getpid()); err != nil {
		return nil, err
	}
	mu.Lock()
	current = s
	mu.Unlock()
	return s, nil
}

// Pin moves processes under test (servers this one started) to the
// servers' CPUs until Undo.
func (s *Split) Pin(pids ...int) error {
	for _, pid := range pids {
		var prev unix.CPUSet
		if err := unix.SchedGetaffinity(pid, &prev); err != nil {
			return fmt.Errorf("sched_getaffinity(%d): %w", pid, err)
		}
		if err := Pin(pid, s.Servers); err != nil {
			return err
		}
		if _, ok := s.prev[pid]; !ok {
			s.prev[pid] = prev
		}
	}
	return nil
}

// Undo gives the pinned processes their CPUs back and wrk its freedom.
func (s *Split) Undo() {
	mu.Lock()
	current = nil
	mu.Unlock()
	for pid, set := range s.prev {
		_ = Pin(pid, set)
	}
}

// String is what a report says about the split: "wrk on CPU 0, servers on CPUs 1".
func (s *Split) String() string {
	return fmt.Sprintf("wrk on CPU %s, the handlers under test on CPUs %s", list(s.Gen), list(s.Servers))
}

// Pin sets the affinity of every thread of process pid (threads it starts
// later inherit it).
func Pin(pid int, set unix.CPUSet) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) { // a thread may exit meanwhile
			return fmt.Errorf("sched_setaffinity(%d): %w", tid, err)
		}
	}
	return nil
}

// list is set in taskset's -c form: "0" or "1,2,3".
func list(set unix.CPUSet) string {
	var b []byte
	for c := range 1024 {
		if set.IsSet(c) {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(c), 10)
		}
	}
	return string(b)
}

// command is wrk's argv, behind taskset when a split is in force.
func command(args ...string) []string { return OnGenerator(append([]string{"wrk"}, args...)...) }

// OnGenerator is argv behind taskset on the generator's CPUs when a split
// is in force, and argv unchanged otherwise: any other load generator this
// process starts (an open-loop one, say) gets wrk's place.
func OnGenerator(argv ...string) []string {
	mu.Lock()
	s := current
	mu.Unlock()
	if s == nil {
		return argv
	}
	return append([]string{"taskset", "-c", list(s.Gen)}, argv...)
}

// NullServer answers every request on a keep-alive connection with an
// empty 200 and does nothing else: no header parsing, no handler, one read
// and one write per batch of requests. Against it wrk measures its own
// ceiling — what it can send and read on its CPU — rather than the ceiling
// of wrk and net/http together. It understands only what wrk sends (GETs
// without a body), which is all it is for. Close stops it.
type NullServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

// StartNull listens on a loopback port.
func StartNull() (*NullServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &NullServer{ln: ln}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// URL is the server's address as wrk takes it.
func (s *NullServer) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Close stops accepting and waits for the connections to end (wrk closes
// them when it finishes).
func (s *NullServer) Close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

var (
	nullAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	endOfHead  = []byte("\r\n\r\n")
)

func (s *NullServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			serveNull(c)
		}()
	}
}

// serveNull answers each request head read from c. A head split across
// reads is counted when its last bytes arrive (carry keeps the tail).
func serveNull(c net.Conn) {
	buf := make([]byte, 16<<10)
	var out []byte
	carry := 0
	for {
		n, err := c.Read(buf[carry:])
		if err != nil {
			return
		}
		data := buf[:carry+n]
		heads := bytes.Count(data, endOfHead)
		carry = 0
		if i := bytes.LastIndex(data, endOfHead); i >= 0 {
			data = data[i+len(endOfHead):]
		}
		if len(data) > 0 { // keep at most the last 3 bytes, which may start a head's end
			carry = min(len(data), len(endOfHead)-1)
			copy(buf, data[len(data)-carry:])
		}
		out = out[:0]
		for range heads {
			out = append(out, nullAnswer...)
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}
