package client

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies keeps the client light for the product apps that import
// it: it must compile neither keel's Kafka and Prometheus libraries nor the
// database and router libraries of keel's own services. It fails when the
// package, or anything it imports, pulls one of them in.
func TestDependencies(t *testing.T) {
	forbidden := []string{
		"github.com/segmentio/kafka-go",
		"github.com/prometheus/",
		"github.com/jackc/pgx",
		"github.com/ClickHouse/clickhouse-go",
		"github.com/go-chi/chi",
	}
	deps := listDeps(t)
	if _, ok := deps["github.com/keelhq/keel/ingest/client"]; !ok {
		t.Fatalf("go list did not list the client itself; it listed %v", deps)
	}
	for _, f := range forbidden {
		// One line per library, naming the packages outside it that pull
		// it in: that is where the fix goes.
		var pulledBy []string
		n := 0
		for dep, via := range deps {
			if !strings.HasPrefix(dep, f) {
				continue
			}
			n++
			for _, v := range via {
				if !strings.HasPrefix(v, f) && !slices.Contains(pulledBy, v) {
					pulledBy = append(pulledBy, v)
				}
			}
		}
		if n > 0 {
			slices.Sort(pulledBy)
			t.Errorf("ingest/client compiles %d packages of %s, imported by %s; product apps must not compile it", n, f, strings.Join(pulledBy, ", "))
		}
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
