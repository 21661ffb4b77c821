// Package deploytest checks the deployment files under deploy/ against the
// code: generated files in sync, every manifest parsing, every ASKONCE_*
// variable and mounted configuration key existing (and loading) in
// internal/config, every metric of the rules and dashboards existing in the
// code, promtool accepting the rules and the compose Prometheus config, and a
// real Prometheus scraping `askonce dev` with the rules loaded.
package deploytest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// MetricKind says which series names a metric family exposes.
type MetricKind int

// Kinds of metric families.
const (
	Plain     MetricKind = iota // counter or gauge: the name itself
	Histogram                   // _bucket, _sum, _count
	Summary                     // the name (quantiles), _sum, _count
)

// CodeMetrics finds every askonce_* metric family defined in the module's
// non-test Go code under root: prometheus.*Opts literals with Namespace
// "askonce" (or a constant named Namespace), including those built by a local
// helper such as `o := func(name, help string) prometheus.Opts {...}` called
// with literal names, and prometheus.NewDesc("askonce_...") descriptors.
func CodeMetrics(root string) (map[string]MetricKind, error) {
	out := map[string]MetricKind{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".var", "bin", "node_modules", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		collectFile(f, out)
		return nil
	})
	return out, err
}

type optsLit struct {
	subsystem string
	name      ast.Expr
	kind      MetricKind
}

func strLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// askonceOpts recognizes a prometheus.XOpts literal in namespace askonce.
func askonceOpts(n ast.Node) (optsLit, bool) {
	cl, ok := n.(*ast.CompositeLit)
	if !ok {
		return optsLit{}, false
	}
	sel, ok := cl.Type.(*ast.SelectorExpr)
	if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
		return optsLit{}, false
	}
	var o optsLit
	switch sel.Sel.Name {
	case "HistogramOpts":
		o.kind = Histogram
	case "SummaryOpts":
		o.kind = Summary
	}
	nsOK := false
	for _, el := range cl.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, _ := kv.Key.(*ast.Ident)
		if key == nil {
			continue
		}
		switch key.Name {
		case "Namespace":
			if s, ok := strLit(kv.Value); ok {
				nsOK = s == "askonce"
			} else if id, ok := kv.Value.(*ast.Ident); ok {
				nsOK = id.Name == "Namespace"
			} else if se, ok := kv.Value.(*ast.SelectorExpr); ok {
				nsOK = se.Sel.Name == "Namespace"
			}
		case "Subsystem":
			o.subsystem, _ = strLit(kv.Value)
		case "Name":
			o.name = kv.Value
		}
	}
	return o, nsOK && o.name != nil
}

func full(o optsLit, name string) string {
	if o.subsystem != "" {
		return "askonce_" + o.subsystem + "_" + name
	}
	return "askonce_" + name
}

func collectFile(f *ast.File, out map[string]MetricKind) {
	// Literal names anywhere, and NewDesc descriptors.
	ast.Inspect(f, func(n ast.Node) bool {
		if o, ok := askonceOpts(n); ok {
			if name, ok := strLit(o.name); ok {
				out[full(o, name)] = o.kind
			}
		}
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewDesc" && len(call.Args) > 0 {
				if s, ok := strLit(call.Args[0]); ok && strings.HasPrefix(s, "askonce_") {
					out[s] = Plain
				}
			}
		}
		return true
	})
	// Helpers: v := func(name ...) { ... Opts{Namespace, Subsystem, Name: name} }
	// and the calls v("literal", ...) in the same function.
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		helpers := map[string]optsLit{}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
				return true
			}
			id, ok := as.Lhs[0].(*ast.Ident)
			fl, ok2 := as.Rhs[0].(*ast.FuncLit)
			if !ok || !ok2 {
				return true
			}
			ast.Inspect(fl.Body, func(m ast.Node) bool {
				if o, ok := askonceOpts(m); ok {
					if _, isIdent := o.name.(*ast.Ident); isIdent {
						helpers[id.Name] = o
					}
				}
				return true
			})
			return true
		})
		if len(helpers) == 0 {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			id, ok := call.Fun.(*ast.Ident)
			if !ok {
				return true
			}
			o, ok := helpers[id.Name]
			if !ok {
				return true
			}
			if name, ok := strLit(call.Args[0]); ok {
				out[full(o, name)] = o.kind
			}
			return true
		})
	}
}

// Series expands metric families to the series names they expose.
func Series(families map[string]MetricKind) map[string]bool {
	out := map[string]bool{}
	for name, k := range families {
		switch k {
		case Histogram:
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[name+s] = true
			}
		case Summary:
			out[name], out[name+"_sum"], out[name+"_count"] = true, true, true
		default:
			out[name] = true
		}
	}
	return out
}

var (
	reStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	reBraces    = regexp.MustCompile(`\{[^{}]*\}`)
	reBrackets  = regexp.MustCompile(`\[[^\[\]]*\]`)
	reGrouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	reIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	reGrafana   = regexp.MustCompile(`\$\{?__[a-z_]+\}?`)
	promKeyword = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
		"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true, "Inf": true, "NaN": true}
)

// GrafanaToPromQL replaces Grafana's interval variables by a duration.
func GrafanaToPromQL(expr string) string { return reGrafana.ReplaceAllString(expr, "1m") }

// PromQLMetricNames returns the metric names a PromQL expression selects
// (not functions, keywords, labels or durations).
func PromQLMetricNames(expr string) []string {
	s := GrafanaToPromQL(expr)
	s = reStrings.ReplaceAllString(s, `""`)
	s = reBraces.ReplaceAllString(s, "{}")
	s = reBrackets.ReplaceAllString(s, "[]")
	s = reGrouping.ReplaceAllString(s, "")
	seen := map[string]bool{}
	for _, loc := range reIdent.FindAllStringIndex(s, -1) {
		tok := s[loc[0]:loc[1]]
		if promKeyword[tok] {
			continue
		}
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // 1e9, 5m
		}
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") {
			continue // a function
		}
		seen[tok] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RepoRoot is the module root, from this package's directory.
func RepoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}
