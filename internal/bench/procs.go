package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one component run as a process of the real binary, so that its
// peak RSS and CPU time are its own.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	done   chan struct{}
	err    error
	mu     sync.Mutex
	hwmKiB int64 // largest VmHWM seen while it ran
}

// Usage is what a component used: peak resident set and CPU time.
type Usage struct {
	PeakRSS  int64 // bytes
	CPU      time.Duration
	Wall     time.Duration
	ExitCode int
}

// startProc runs binary args with env added to the environment, logging to
// dir/name.log.
func startProc(binary, dir, name string, env []string, args ...string) (*proc, error) {
	log := filepath.Join(dir, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	go p.sample()
	return p, nil
}

// sample reads VmHWM (the high-water mark of the process's own memory)
// while the process runs, and stop reads it once more before the signal.
// The rusage maxrss of a child is not used: on Linux it includes the
// parent's resident set at the vfork before exec, so a big parent would
// show as a big child.
func (p *proc) sample() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.sampleNow()
		}
	}
}

func (p *proc) sampleNow() {
	if v := vmHWM(p.cmd.Process.Pid); v > 0 {
		p.mu.Lock()
		p.hwmKiB = max(p.hwmKiB, v)
		p.mu.Unlock()
	}
}

// vmHWM is the peak resident set of pid in KiB, 0 when unknown.
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}

// exited reports whether the process ended, with its error.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM, waits (SIGKILL after grace) and returns the usage.
func (p *proc) stop(grace time.Duration) Usage {
	if ok, _ := p.exited(); !ok {
		p.sampleNow()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.usage()
}

// wait waits for the process to end by itself.
func (p *proc) wait(ctx context.Context) (Usage, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return p.stop(5 * time.Second), ctx.Err()
	}
	u := p.usage()
	if p.err != nil {
		return u, fmt.Errorf("bench: %s: %w\n%s", p.name, p.err, p.tail(20))
	}
	return u, nil
}

func (p *proc) usage() Usage {
	u := Usage{ExitCode: -1}
	st := p.cmd.ProcessState
	if st == nil {
		return u
	}
	u.ExitCode = st.ExitCode()
	u.CPU = st.UserTime() + st.SystemTime()
	p.mu.Lock()
	u.PeakRSS = p.hwmKiB * 1024
	p.mu.Unlock()
	return u
}

// tail is the end of the process's log, for error messages.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freeAddr is a free loopback address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHTTP waits until url answers 200 or the process ends.
func waitHTTP(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if ok, err := p.exited(); ok {
			return fmt.Errorf("bench: %s exited before it was ready: %v\n%s", p.name, err, p.tail(20))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // draining
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s not ready at %s after %s\n%s", p.name, url, timeout, p.tail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// scrape sums the samples of the Prometheus metrics named name (any labels)
// at url; with suffixes _sum and _count for histograms.
func scrape(ctx context.Context, url string, names ...string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	out := map[string]float64{}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if !want[name] {
			continue
		}
		rest := line[len(name):]
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}
