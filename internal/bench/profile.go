package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// profiler takes CPU profiles of component processes through their pprof
// listener (ops.pprof_listen) into Options.ProfileDir.
type profiler struct {
	dir string
	wg  sync.WaitGroup
}

// pprofEnv gives a component a pprof listener when profiles are wanted:
// its environment entry and its address ("" when off).
func (e *env) pprofEnv() ([]string, string, error) {
	if e.opt.ProfileDir == "" {
		return nil, "", nil
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	return []string{"ASKONCE_OPS_PPROF_LISTEN=" + addr}, addr, nil
}

// cpuProfile fetches a CPU profile of d from the pprof listener at addr
// into dir/name.pprof in the background; wait collects it.
func (p *profiler) cpuProfile(ctx context.Context, addr, name string, d time.Duration, progress func(string, ...any)) {
	if p == nil || p.dir == "" || addr == "" {
		return
	}
	secs := max(1, int(d.Seconds()))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := fetchProfile(ctx, addr, secs, filepath.Join(p.dir, name+".pprof")); err != nil {
			progress("  profile %s: %v", name, err)
			return
		}
		progress("  profile %s: %s (%d s)", name, filepath.Join(p.dir, name+".pprof"), secs)
	}()
}

func (p *profiler) wait() {
	if p != nil {
		p.wg.Wait()
	}
}

// allocProfile saves the allocations since the start of the process at
// addr into dir/name.pprof (go tool pprof -sample_index=alloc_space).
func (p *profiler) allocProfile(ctx context.Context, addr, name string, progress func(string, ...any)) {
	if p == nil || p.dir == "" || addr == "" {
		return
	}
	if err := fetch(ctx, "http://"+addr+"/debug/pprof/allocs", filepath.Join(p.dir, name+".pprof"), time.Minute); err != nil {
		progress("  profile %s: %v", name, err)
	}
}

func fetchProfile(ctx context.Context, addr string, secs int, path string) error {
	u := "http://" + addr + "/debug/pprof/profile?seconds=" + strconv.Itoa(secs)
	// The process may be starting: its listener can refuse for a moment.
	var err error
	for range 20 {
		if err = fetch(ctx, u, path, time.Duration(secs+30)*time.Second); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return err
}

func fetch(ctx context.Context, u, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
