package cdn

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed varnish.vcl
var vclText string

var vclTemplate = template.Must(template.New("varnish.vcl").Parse(vclText))

// VCL is the configuration of a Varnish in front of the readsvc at backend
// (host:port) that accepts purges from the addresses purgers (IPs or
// CIDRs; none: loopback only).
func VCL(backend string, purgers ...string) (string, error) {
	host, port, err := net.SplitHostPort(backend)
	if err != nil {
		return "", fmt.Errorf("backend %q: %w", backend, err)
	}
	if len(purgers) == 0 {
		purgers = []string{"127.0.0.1", "::1"}
	}
	type acl struct{ IP, Bits string }
	var acls []acl
	for _, p := range purgers {
		ip, bits, _ := strings.Cut(p, "/")
		if net.ParseIP(ip) == nil {
			return "", fmt.Errorf("purger %q: want an IP address or a CIDR", p)
		}
		if _, err := strconv.ParseUint(bits, 10, 8); bits != "" && err != nil {
			return "", fmt.Errorf("purger %q: bad prefix length", p)
		}
		acls = append(acls, acl{ip, bits})
	}
	var b bytes.Buffer
	err = vclTemplate.Execute(&b, struct {
		Host, Port string
		Purgers    []acl
	}{host, port, acls})
	return b.String(), err
}

// Varnishd is where Debian's varnish package puts the daemon.
const Varnishd = "/usr/sbin/varnishd"

// Installed says whether varnishd and the xkey vmod are here, and how to
// get them if not.
func Installed() error {
	if _, err := os.Stat(Varnishd); err != nil {
		return fmt.Errorf("varnish is not installed (%v): run scripts/stack install (it installs Debian's varnish and varnish-modules)", err)
	}
	if m, _ := filepath.Glob("/usr/lib/*/varnish/vmods/libvmod_xkey.so"); len(m) == 0 {
		return errors.New("the xkey vmod is not installed: run scripts/stack install (it installs Debian's varnish-modules)")
	}
	return nil
}

// Version is the first line of varnishd -V, for reports.
func Version() string {
	out, err := exec.Command(Varnishd, "-V").CombinedOutput()
	if err != nil {
		return "varnishd -V failed: " + err.Error()
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// Varnish is a private varnishd: its own work directory, listener and
// configuration, in the foreground of this process.
type Varnish struct {
	Addr    string // host:port it serves on
	cmd     *exec.Cmd
	exited  chan struct{} // closed when varnishd has ended
	logPath string
}

// URL is the base URL of the Varnish.
func (v *Varnish) URL() string { return "http://" + v.Addr }

// Start runs varnishd in dir (created if need be) on listen (host:port; a
// port of 0 picks a free one) in front of backend, with a cache of
// cacheMiB, and waits until it answers.
func Start(ctx context.Context, dir, listen, backend string, cacheMiB int) (*Varnish, error) {
	if err := Installed(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	vcl, err := VCL(backend)
	if err != nil {
		return nil, err
	}
	vclPath := filepath.Join(dir, "readsvc.vcl")
	if err := os.WriteFile(vclPath, []byte(vcl), 0o644); err != nil {
		return nil, err
	}
	if strings.HasSuffix(listen, ":0") {
		if listen, err = freeAddr(strings.TrimSuffix(listen, ":0")); err != nil {
			return nil, err
		}
	}
	admin, err := freeAddr("127.0.0.1")
	if err != nil {
		return nil, err
	}
	workdir, err := filepath.Abs(filepath.Join(dir, "varnishd"))
	if err != nil {
		return nil, err
	}
	// -j none: the worker runs as this user (root or not), so it can read
	// dir however private it is.
	cmd := exec.Command(Varnishd, "-F", "-j", "none", "-n", workdir, "-a", listen, "-T", admin, "-f", vclPath,
		"-s", "malloc,"+strconv.Itoa(cacheMiB)+"m", "-p", "vsl_space=4m")
	logPath := filepath.Join(dir, "varnishd.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start varnishd: %w", err)
	}
	v := &Varnish{Addr: listen, cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	go func() { _ = cmd.Wait(); close(v.exited) }()
	if err := v.wait(ctx, 30*time.Second); err != nil {
		v.Kill()
		return nil, fmt.Errorf("varnishd on %s: %w\n%s", listen, err, v.Log())
	}
	return v, nil
}

// wait polls until Varnish answers a PURGE (its own synthetic answer, so a
// backend that is not up yet does not matter).
func (v *Varnish) wait(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "PURGE", v.URL()+"/", nil)
		req.Header.Set(PurgeHeader, "ready-check")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-v.exited:
			return fmt.Errorf("exited: %v", v.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill ends varnishd at once (SIGKILL to the manager; its worker child
// ends with it) and waits for it.
func (v *Varnish) Kill() {
	_ = v.cmd.Process.Kill()
	<-v.exited
}

// Stop ends varnishd cleanly, or kills it after 5 s.
func (v *Varnish) Stop() {
	_ = v.cmd.Process.Signal(os.Interrupt)
	select {
	case <-v.exited:
	case <-time.After(5 * time.Second):
		v.Kill()
	}
}

// Log is what varnishd has printed.
func (v *Varnish) Log() string {
	b, _ := os.ReadFile(v.logPath)
	return string(b)
}

func freeAddr(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
