package bench

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPU                 string
	Cores               int
	MemTotal            int64 // bytes
	Kernel, Go, PG, Git string
}

func machineInfo(ctx context.Context, pgURL, moduleDir string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown", Kernel: "unknown", PG: "unknown", Git: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				m.MemTotal = kb * 1024
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if conn, err := pgx.Connect(ctx, pgURL); err == nil {
		var v string
		if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
			m.PG = "PostgreSQL " + v
		}
		conn.Close(ctx)
	}
	if moduleDir != "" {
		if out, err := exec.CommandContext(ctx, "git", "-C", moduleDir, "rev-parse", "--short=12", "HEAD").Output(); err == nil {
			m.Git = strings.TrimSpace(string(out))
			if st, err := exec.CommandContext(ctx, "git", "-C", moduleDir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
				m.Git += " (with uncommitted changes)"
			}
		}
	}
	return m
}
