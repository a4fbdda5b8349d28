package ingest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies keeps the event contract importable by anything: the
// package compiles the standard library and the module's root package only,
// so that the collector, the client and the loader share it without
// sharing their libraries.
func TestDependencies(t *testing.T) {
	allowed := map[string]bool{"github.com/keelhq/keel": true, "github.com/keelhq/keel/ingest": true}
	deps := listDeps(t)
	if _, ok := deps["github.com/keelhq/keel/ingest"]; !ok {
		t.Fatalf("go list did not list ingest itself; it listed %v", deps)
	}
	var bad []string
	for dep, via := range deps {
		if !allowed[dep] {
			bad = append(bad, dep+" (imported by "+strings.Join(via, ", ")+")")
		}
	}
	slices.Sort(bad)
	for _, b := range bad {
		t.Errorf("ingest depends on %s; it may use only the standard library and package keel", b)
	}
}

// listDeps runs go list -deps on the package in the current directory and
// returns every package outside the standard library that it compiles, each
// with the packages of that list that import it directly.
func listDeps(t *testing.T) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := map[string][]string{}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		deps[f[0]] = nil
		imports[f[0]] = f[1:]
	}
	for pkg, imps := range imports {
		for _, imp := range imps {
			if _, ok := deps[imp]; ok {
				deps[imp] = append(deps[imp], pkg)
			}
		}
	}
	return deps
}
