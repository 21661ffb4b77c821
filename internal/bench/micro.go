package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Micro is the median of one `go test -bench` benchmark over its runs.
type Micro struct {
	Name                       string
	NsPerOp, BytesPerOp, Alloc float64
	Runs                       int
}

// runMicro runs the package's micro benchmarks with the go tool in the
// module directory; the note says why they were skipped when they were.
func runMicro(ctx context.Context, moduleDir string, count int, benchtime string) ([]Micro, string) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, "skipped: the go tool is not on PATH"
	}
	if moduleDir == "" {
		return nil, "skipped: not run from the askonce module (no go.mod of github.com/askonce/askonce above the working directory)"
	}
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", benchtime, "-count", strconv.Itoa(count), "./internal/bench/"}
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = moduleDir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Sprintf("failed: go %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return ParseBench(out.Bytes()), "go " + strings.Join(args, " ")
}

// ParseBench reads `go test -bench` output into medians per benchmark.
func ParseBench(out []byte) []Micro {
	type acc struct{ ns, bytes, allocs []float64 }
	by := map[string]*acc{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		a := by[name]
		if a == nil {
			a = &acc{}
			by[name] = a
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				a.ns = append(a.ns, v)
			case "B/op":
				a.bytes = append(a.bytes, v)
			case "allocs/op":
				a.allocs = append(a.allocs, v)
			}
		}
	}
	var ms []Micro
	for _, n := range order {
		a := by[n]
		ms = append(ms, Micro{Name: n, NsPerOp: median(a.ns), BytesPerOp: median(a.bytes), Alloc: median(a.allocs), Runs: len(a.ns)})
	}
	return ms
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ModuleDir is the askonce module directory above dir, "" when there is none.
func ModuleDir(dir string) string {
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/askonce/askonce\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
