package chaos_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// component is one long-running process of the bus, under a small
// supervisor: when it exits on its own (not killed by the harness), it is
// restarted after a pause, as systemd or Kubernetes would, and the exit
// is counted for the report.
type component struct {
	t    *testing.T
	name string
	args []string
	env  []string
	log  *os.File
	path string // of log

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited
	killing  bool          // the harness is killing cmd: not a crash
	stopping bool          // the test is ending: no restart
	paused   bool          // SIGSTOPped: a process started meanwhile is stopped too
	starts   int
	exits    []string // exits the harness did not cause, with their status
}

func newComponent(t *testing.T, logPath, name string, env []string, args ...string) *component {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("chaos: log of %s: %v", name, err)
	}
	c := &component{t: t, name: name, args: args, env: env, log: f, path: logPath}
	t.Cleanup(func() {
		c.stop(20 * time.Second)
		_ = f.Close()
	})
	return c
}

// start runs a new process of the component. It fails the test only when
// the binary can not be started at all.
func (c *component) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startLocked()
}

func (c *component) startLocked() {
	if c.stopping {
		return
	}
	c.starts++
	fmt.Fprintf(c.log, "=== chaos: start #%d of %s at %s\n", c.starts, c.name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, c.args...)
	cmd.Env = childEnv(c.env)
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		c.t.Errorf("chaos: start %s: %v", c.name, err)
		return
	}
	done := make(chan struct{})
	c.cmd, c.done = cmd, done
	if c.paused {
		// Killed and restarted while paused: the new process waits too,
		// so that the component stays frozen for the whole window.
		_ = cmd.Process.Signal(syscall.SIGSTOP)
		fmt.Fprintf(c.log, "=== chaos: %s started paused (SIGSTOP) at %s\n", c.name, time.Now().UTC().Format(time.RFC3339Nano))
	}
	go c.wait(cmd, done)
}

// pause SIGSTOPs the running process: it keeps its sockets, its consumer
// group membership and its PostgreSQL sessions, and does nothing, as a
// process stuck in a long GC pause, swapped out or frozen by its cgroup
// would. The component stays paused (a restart starts it stopped) until
// resume.
func (c *component) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
	fmt.Fprintf(c.log, "=== chaos: SIGSTOP %s at %s\n", c.name, time.Now().UTC().Format(time.RFC3339Nano))
	if c.cmd != nil {
		_ = c.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// resume SIGCONTs the process paused by pause.
func (c *component) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		return
	}
	c.paused = false
	fmt.Fprintf(c.log, "=== chaos: SIGCONT %s at %s\n", c.name, time.Now().UTC().Format(time.RFC3339Nano))
	if c.cmd != nil {
		_ = c.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// isPaused reports whether the component is between pause and resume.
func (c *component) isPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// wait reaps cmd and restarts the component when it exited by itself.
func (c *component) wait(cmd *exec.Cmd, done chan struct{}) {
	err := cmd.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	// done closes only after the exit is judged, under the lock: kill
	// clears killing once done is closed, and must not do it before.
	defer close(done)
	if c.cmd != cmd || c.killing || c.stopping {
		return
	}
	status := "exit 0"
	if err != nil {
		status = err.Error()
	}
	// The error a command fails with is its last line ("askonce: ...").
	if last := tailFile(c.path, 1); strings.HasPrefix(last, "askonce: ") {
		if len(last) > 140 {
			last = last[:140] + "..."
		}
		status += ": " + last
	}
	c.exits = append(c.exits, status)
	fmt.Fprintf(c.log, "=== chaos: %s exited by itself (%s); supervisor restarts it in 1s\n", c.name, status)
	go func() {
		time.Sleep(time.Second)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.cmd == cmd { // nobody restarted it meanwhile
			c.startLocked()
		}
	}()
}

// kill SIGKILLs the running process and waits until it is gone (SIGKILL
// ends a stopped process too).
func (c *component) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	if cmd == nil {
		c.mu.Unlock()
		return
	}
	c.killing = true
	c.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	c.mu.Lock()
	c.killing = false
	c.mu.Unlock()
}

// restart kills the component if it runs and starts it again.
func (c *component) restart(pause time.Duration) {
	c.kill()
	time.Sleep(pause)
	c.start()
}

// running reports whether a process of the component is alive.
func (c *component) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// stop ends the component for good: SIGTERM, then SIGKILL after grace.
func (c *component) stop(grace time.Duration) {
	c.mu.Lock()
	c.stopping = true
	cmd, done, paused := c.cmd, c.done, c.paused
	c.paused = false
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if paused { // a stopped process handles SIGTERM once continued
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// selfExits lists the exits the harness did not cause.
func (c *component) selfExits() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.exits...)
}

// childEnv is the test's environment without its own ASKONCE_CHAOS_*
// settings (the binary refuses unknown ASKONCE_* variables), plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ASKONCE_CHAOS_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// freePort returns a loopback TCP port free now. The broker keeps its
// port across restarts, so it is chosen once.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("chaos: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// run runs the binary to completion and returns its combined output.
func run(env []string, args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = childEnv(env)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}

// tailFile is the last n lines of a file, for failure messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
