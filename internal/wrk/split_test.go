package wrk

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestNullServerAnswersKeepAliveRequests(t *testing.T) {
	s, err := StartNull()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	for range 100 {
		resp, err := client.Get(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Fatalf("status %d, body %q", resp.StatusCode, body)
		}
	}
	client.CloseIdleConnections()
}

// A request head that arrives a byte at a time, and two heads in one
// write, get one answer each.
func TestNullServerCountsHeadsAcrossReads(t *testing.T) {
	s, err := StartNull()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(s.URL(), "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for i := range len(head) {
		if _, err := c.Write([]byte{head[i]}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Write([]byte(head + head)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for i := range 3 {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		resp.Body.Close()
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _ := r.Read(make([]byte, 1)); n > 0 {
		t.Fatal("more answers than requests")
	}
}

func TestSplitCPUsPinsThisProcessAwayFromTheGenerator(t *testing.T) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	s, err := SplitCPUs()
	if all.Count() < 2 {
		if err == nil {
			t.Fatal("split a single CPU")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.Gen.Count() != 1 || s.Servers.Count() != all.Count()-1 {
		t.Fatalf("gen %s, servers %s of %d CPUs", list(s.Gen), list(s.Servers), all.Count())
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		var got unix.CPUSet
		var tid int
		for _, ch := range task.Name() {
			tid = tid*10 + int(ch-'0')
		}
		if err := unix.SchedGetaffinity(tid, &got); err != nil {
			continue // exited
		}
		if got != s.Servers {
			t.Errorf("thread %d on CPUs %s, want %s", tid, list(got), list(s.Servers))
		}
	}
	if argv := command("-t1", "url"); !slices.Equal(argv[:4], []string{"taskset", "-c", list(s.Gen), "wrk"}) {
		t.Errorf("wrk runs as %q", argv)
	}
	s.Undo()
	var back unix.CPUSet
	_ = unix.SchedGetaffinity(0, &back)
	if back != all {
		t.Errorf("after Undo on CPUs %s, want %s", list(back), list(all))
	}
	if argv := command("-t1", "url"); argv[0] != "wrk" {
		t.Errorf("after Undo wrk runs as %q", argv)
	}
}

func TestSplitPinsAndReleasesAnotherProcess(t *testing.T) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	if all.Count() < 2 { // nothing to split: covered by the test above
		if _, err := SplitCPUs(); err == nil {
			t.Fatal("split a single CPU")
		}
		return
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	s, err := SplitCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pin(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	var got unix.CPUSet
	if err := unix.SchedGetaffinity(child.Process.Pid, &got); err != nil || got != s.Servers {
		t.Fatalf("child on CPUs %s (%v), want %s", list(got), err, list(s.Servers))
	}
	s.Undo()
	if err := unix.SchedGetaffinity(child.Process.Pid, &got); err != nil || got != all {
		t.Fatalf("after Undo child on CPUs %s (%v), want %s", list(got), err, list(all))
	}
}
