package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// EnsurePostgres returns the bin directory of the newest PostgreSQL under
// /usr/lib/postgresql, installing Debian's postgresql package (15 on
// bookworm) with apt-get when none is there and we are root.
//
// We use the Debian layout directly instead of pg_ctlcluster because the
// throwaway clusters must not be registered with the system's cluster list.
func EnsurePostgres(ctx context.Context) (binDir string, err error) {
	if d := findPostgresBin("/usr/lib/postgresql"); d != "" {
		return d, nil
	}
	if err := aptInstall(ctx, "initdb (PostgreSQL)", "postgresql"); err != nil {
		return "", fmt.Errorf("ensure postgres: %w", err)
	}
	if d := findPostgresBin("/usr/lib/postgresql"); d != "" {
		return d, nil
	}
	return "", errors.New("ensure postgres: package postgresql installed but no /usr/lib/postgresql/<version>/bin/postgres found")
}

// findPostgresBin returns root/<highest version>/bin when it has both initdb
// and postgres, or "" when there is none.
func findPostgresBin(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var versions []string
	for _, e := range entries {
		bin := filepath.Join(root, e.Name(), "bin")
		if isExecutable(filepath.Join(bin, "initdb")) && isExecutable(filepath.Join(bin, "postgres")) {
			versions = append(versions, e.Name())
		}
	}
	if len(versions) == 0 {
		return ""
	}
	// Versions are "9.6", "15", "16": compare numerically, part by part.
	sort.Slice(versions, func(i, j int) bool { return versionLess(versions[i], versions[j]) })
	return filepath.Join(root, versions[len(versions)-1], "bin")
}

// versionLess compares dotted numeric versions; non-numeric parts compare as 0.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return a < b
}

// clickHouseServerPath is where Debian's clickhouse-server package puts the
// server binary.
const clickHouseServerPath = "/usr/sbin/clickhouse-server"

// EnsureClickHouse returns the path of clickhouse-server, installing Debian's
// clickhouse-server and clickhouse-client packages with apt-get when it is
// missing and we are root.
func EnsureClickHouse(ctx context.Context) (serverPath string, err error) {
	if p := findExecutable(clickHouseServerPath, "clickhouse-server"); p != "" {
		return p, nil
	}
	if err := aptInstall(ctx, "clickhouse-server", "clickhouse-server", "clickhouse-client"); err != nil {
		return "", fmt.Errorf("ensure clickhouse: %w", err)
	}
	if p := findExecutable(clickHouseServerPath, "clickhouse-server"); p != "" {
		return p, nil
	}
	return "", errors.New("ensure clickhouse: package clickhouse-server installed but clickhouse-server not found")
}

// ensureJava returns the path of java, installing Debian's default headless
// JRE (17 on bookworm) when it is missing and we are root.
func ensureJava(ctx context.Context) (string, error) {
	if p := findExecutable("", "java"); p != "" {
		return p, nil
	}
	if err := aptInstall(ctx, "java", "default-jre-headless"); err != nil {
		return "", fmt.Errorf("ensure java: %w", err)
	}
	if p := findExecutable("", "java"); p != "" {
		return p, nil
	}
	return "", errors.New("ensure java: package default-jre-headless installed but java not on PATH")
}

// ensureMaven returns the path of mvn, installing Debian's maven package when
// it is missing and we are root.
func ensureMaven(ctx context.Context) (string, error) {
	if p := findExecutable("", "mvn"); p != "" {
		return p, nil
	}
	if err := aptInstall(ctx, "mvn", "maven"); err != nil {
		return "", fmt.Errorf("ensure maven: %w", err)
	}
	if p := findExecutable("", "mvn"); p != "" {
		return p, nil
	}
	return "", errors.New("ensure maven: package maven installed but mvn not on PATH")
}

// findExecutable returns path when it is executable, else name looked up on
// PATH, else "".
func findExecutable(path, name string) string {
	if path != "" && isExecutable(path) {
		return path
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// aptInstall installs Debian packages with apt-get, refreshing the package
// lists and retrying once when the first attempt fails (a fresh machine often
// has no lists yet). Without root it returns an error naming the packages, so
// a developer knows exactly what to install.
func aptInstall(ctx context.Context, what string, pkgs ...string) error {
	list := strings.Join(pkgs, " ")
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s not found and not running as root: install it with `sudo apt-get install -y %s`", what, list)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%s not found and apt-get is unavailable: install the packages %s", what, list)
	}
	// The lock timeout lets parallel installs (StartStack) queue up on the
	// dpkg lock instead of failing.
	args := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends"}, pkgs...)
	if out, err := runApt(ctx, args...); err != nil {
		if out2, err2 := runApt(ctx, "-o", "DPkg::Lock::Timeout=300", "update"); err2 != nil {
			return fmt.Errorf("apt-get update (after install of %s failed: %v): %w\n%s", list, err, err2, tailString(out+out2, 20))
		}
		if out3, err3 := runApt(ctx, args...); err3 != nil {
			return fmt.Errorf("apt-get install -y %s: %w\n%s", list, err3, tailString(out3, 20))
		}
	}
	return nil
}

func runApt(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tailString returns the last n lines of s.
func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
