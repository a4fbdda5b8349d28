package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresConfig configures a throwaway PostgreSQL cluster.
type PostgresConfig struct {
	// Dir holds the cluster (created if missing). initdb runs on the first
	// start only; later starts reuse the data. See StartPostgres for when
	// the data directory itself has to live elsewhere.
	Dir string
	// Port is the loopback TCP port; 0 picks a free one.
	Port int
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
}

// Postgres is a running (or stopped) throwaway PostgreSQL cluster. Its
// methods are safe for concurrent use.
type Postgres struct {
	dir     string
	port    int
	binDir  string
	dataDir string
	logPath string
	cred    *syscall.Credential // nil: run as ourselves
	log     *slog.Logger

	mu   sync.Mutex
	proc *process
}

const (
	// pgDataDirFile, inside Dir, names the data directory when it had to be
	// relocated out of Dir (see resolveDataDir).
	pgDataDirFile = "postgres-datadir.txt"
	// pgKeelDB is the database created for keel on first start.
	pgKeelDB = "keel"
	// pgStopGrace is how long a fast shutdown may take before SIGKILL.
	pgStopGrace = 30 * time.Second
	// pgReadyTimeout bounds the wait for connections after the postmaster starts.
	pgReadyTimeout = 60 * time.Second
)

// StartPostgres starts Debian's PostgreSQL (see EnsurePostgres) on
// 127.0.0.1 with a cluster in cfg.Dir, and creates the database "keel" on
// first start. The cluster is tuned for throwaway use: fsync, synchronous
// commit and full page writes are off, and authentication is trust.
//
// PostgreSQL refuses to run as root, so when we are root initdb and the
// server run as the OS user postgres. That user must be able to reach the
// data directory: when it cannot traverse the path to cfg.Dir (typical for
// /root/... and for t.TempDir(), whose parent is mode 0700), the data
// directory is put under the postgres user's home directory (Debian:
// /var/lib/postgresql) or, failing that, os.TempDir(), in
// keel-devstack/<hash of Dir>/data, and that location is recorded in
// Dir/postgres-datadir.txt. We do this rather than loosen the permissions of
// directories we do not own (such as /root). Relocated data directories whose
// Dir has since been deleted are removed at the next relocating start, so
// tests using t.TempDir() do not pile up clusters. The server log is always
// Dir/postgres.log.
func StartPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	if cfg.Dir == "" {
		return nil, errors.New("start postgres: PostgresConfig.Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	binDir, err := EnsurePostgres(ctx)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start postgres: create dir: %w", err)
	}
	port, err := portOrFree(cfg.Port)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &Postgres{
		dir:     dir,
		port:    port,
		binDir:  binDir,
		logPath: filepath.Join(dir, "postgres.log"),
		log:     orDiscard(cfg.Logger).With("component", "postgres"),
	}
	if os.Geteuid() == 0 {
		if p.cred, err = lookupCredential("postgres"); err != nil {
			return nil, fmt.Errorf("start postgres: running as root needs the OS user postgres (from the postgresql package): %w", err)
		}
	}
	if p.dataDir, err = p.resolveDataDir(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// URL returns the connection URL of the keel database.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, pgKeelDB)
}

// Port returns the loopback TCP port the server listens on.
func (p *Postgres) Port() int { return p.port }

// DataDir returns the PostgreSQL data directory: Dir/pgdata, or the
// relocated directory described at StartPostgres. Tests that want to remove
// a relocated cluster right away (rather than at the next relocating start)
// can delete it after Stop.
func (p *Postgres) DataDir() string { return p.dataDir }

// Start starts the server again on the same port and data directory after
// Stop or Kill. It does nothing when the server is already running.
func (p *Postgres) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil && !p.proc.exited() {
		return nil
	}
	if pid := p.livePostmaster(); pid != 0 {
		return fmt.Errorf("start postgres: another postgres (pid %d) is already using %s", pid, p.dataDir)
	}
	if err := checkPortsFree(p.port); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	if err := p.initdb(ctx); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	cmd := exec.Command(filepath.Join(p.binDir, "postgres"),
		"-D", p.dataDir,
		"-p", strconv.Itoa(p.port),
		// No Unix socket: clients use TCP, and a socket path inside a
		// long Dir can exceed the 107-byte sun_path limit.
		"-c", "unix_socket_directories=",
		"-c", "listen_addresses=127.0.0.1",
		// Throwaway cluster: durability is not worth the latency.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
	)
	// Dir "/" because the chdir happens after the switch to the postgres
	// user, who may not be able to reach our working directory.
	cmd.Dir = "/"
	// SIGINT is PostgreSQL's fast shutdown.
	cmd.SysProcAttr = childAttrs(syscall.SIGINT, p.cred)
	start := time.Now()
	proc, err := startProcess("postgres", cmd, p.logPath)
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	if err := waitReady(ctx, proc, pgReadyTimeout, p.ensureKeelDB); err != nil {
		// A graceful stop: a start cancelled by a sibling's failure
		// (StartStack) should not leave a cluster that needs recovery.
		_ = proc.stop(context.WithoutCancel(ctx), p.log, syscall.SIGINT, 5*time.Second)
		p.waitOrphans()
		return withLogTail(fmt.Errorf("start postgres: %w", err), p.logPath)
	}
	p.proc = proc
	p.log.Info("postgres ready", "url", p.URL(), "data", p.dataDir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Stop shuts the server down with a fast shutdown (SIGINT: clients are
// disconnected, a checkpoint is written) and waits for it to exit; after
// 30 s or when ctx ends it kills the server instead. Stopping a stopped
// server does nothing.
func (p *Postgres) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil || p.proc.exited() {
		return nil
	}
	err := p.proc.stop(ctx, p.log, syscall.SIGINT, pgStopGrace)
	p.waitOrphans()
	if err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	p.log.Info("postgres stopped")
	return nil
}

// Kill SIGKILLs the postmaster, as a crash would, and waits for it and its
// backends to go; the next Start runs crash recovery. Because the cluster
// runs with synchronous_commit=off, transactions committed in the last
// fraction of a second before Kill may be lost, as on a real crash with
// that setting. Killing a stopped server does nothing.
func (p *Postgres) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil || p.proc.exited() {
		return nil
	}
	p.proc.kill()
	p.waitOrphans()
	p.log.Info("postgres killed")
	return nil
}

// initdb creates the cluster unless the data directory already holds one.
//
// initdb writes into a sibling directory that is renamed into place when it
// succeeds, so a data directory exists only complete: an initdb killed half
// way (a cancelled ctx, a crash) leaves nothing a later start could mistake
// for a cluster.
func (p *Postgres) initdb(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(p.dataDir, "PG_VERSION")); err == nil {
		return nil
	}
	tmp := p.dataDir + ".initdb"
	for _, d := range []string{tmp, p.dataDir} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("initdb: clear %s: %w", d, err)
		}
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("initdb: create data dir: %w", err)
	}
	if p.cred != nil {
		if err := os.Chown(tmp, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fmt.Errorf("initdb: chown data dir to postgres: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, "initdb"),
		"-D", tmp, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if f, ferr := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
		fmt.Fprintf(f, "==== devstack: initdb %s\n%s", p.dataDir, out)
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", p.dataDir, err, tailString(string(out), 30))
	}
	if err := os.Rename(tmp, p.dataDir); err != nil {
		return fmt.Errorf("initdb: move data dir into place: %w", err)
	}
	p.log.Info("initdb done", "data", p.dataDir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// ensureKeelDB connects to the maintenance database, which doubles as the
// readiness probe, and creates the keel database when it does not exist.
func (p *Postgres) ensureKeelDB(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", p.port))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", pgKeelDB).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", pgKeelDB, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgKeelDB); err != nil {
		return fmt.Errorf("create database %s: %w", pgKeelDB, err)
	}
	p.log.Info("created database", "database", pgKeelDB)
	return nil
}

// waitOrphans waits for the backends of a dead postmaster to exit, killing
// them after a few seconds.
//
// Backends notice the postmaster's death on their own, but until they are
// gone they keep the old shared memory attached and a new postmaster on the
// same data directory refuses to start ("pre-existing shared memory block is
// still in use"). Backends run with the data directory as their working
// directory, which is how we find them (they call setsid, so a process
// group kill would not reach them).
//
// When another live postmaster owns the data directory (a failed second
// start on the same Dir), the processes there are its own: we leave them be.
func (p *Postgres) waitOrphans() {
	if p.livePostmaster() != 0 {
		return
	}
	target, err := filepath.EvalSymlinks(p.dataDir)
	if err != nil {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := processesWithCwd(target)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			p.log.Warn("killing leftover postgres backends", "pids", pids)
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			deadline = time.Now().Add(5 * time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// livePostmaster returns the pid of a running postmaster that owns the data
// directory according to its postmaster.pid, or 0. A pid that has been
// reused by an unrelated process after a crash does not count: a postmaster
// has the data directory as its working directory.
func (p *Postgres) livePostmaster() int {
	b, err := os.ReadFile(filepath.Join(p.dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0
	}
	target, err := filepath.EvalSymlinks(p.dataDir)
	if err != nil {
		return 0
	}
	if cwd, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd")); err != nil || cwd != target {
		return 0
	}
	return pid
}

// processesWithCwd lists the processes whose working directory is dir.
func processesWithCwd(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

// resolveDataDir picks the data directory: the one recorded in
// Dir/postgres-datadir.txt, else Dir/pgdata when the server's user can reach
// it (or a cluster already lives there), else a relocated directory (see
// StartPostgres).
func (p *Postgres) resolveDataDir() (string, error) {
	record := filepath.Join(p.dir, pgDataDirFile)
	if b, err := os.ReadFile(record); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				return line, nil
			}
		}
	}
	local := filepath.Join(p.dir, "pgdata")
	if p.cred == nil {
		return local, nil
	}
	if _, err := os.Stat(filepath.Join(local, "PG_VERSION")); err == nil {
		return local, nil
	}
	blocker, err := firstUntraversable(p.dir, p.cred)
	if err != nil {
		return "", err
	}
	if blocker == "" {
		return local, nil
	}

	base := os.TempDir()
	if u, err := user.LookupId(strconv.Itoa(int(p.cred.Uid))); err == nil && u.HomeDir != "" {
		if st, err := os.Stat(u.HomeDir); err == nil && st.IsDir() {
			if b, err := firstUntraversable(u.HomeDir, p.cred); err == nil && b == "" {
				base = u.HomeDir
			}
		}
	}
	root := filepath.Join(base, "keel-devstack")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("create relocated data root: %w", err)
	}
	// Make sure the postgres user can traverse what we just created even
	// under a restrictive umask.
	if err := os.Chmod(root, 0o755); err != nil {
		return "", fmt.Errorf("chmod relocated data root: %w", err)
	}
	p.gcRelocated(root)
	sum := sha256.Sum256([]byte(p.dir))
	entry := filepath.Join(root, "pg-"+hex.EncodeToString(sum[:8]))
	dataDir := filepath.Join(entry, "data")
	// The record goes first: gcRelocated deletes entries whose origin has no
	// record, so a concurrent start must never see our origin without it.
	note := fmt.Sprintf("# The PostgreSQL data directory of this devstack lives outside this directory\n"+
		"# because the OS user postgres cannot traverse %s.\n%s\n", blocker, dataDir)
	if err := os.WriteFile(record, []byte(note), 0o644); err != nil {
		return "", fmt.Errorf("record relocated data dir: %w", err)
	}
	if err := os.MkdirAll(entry, 0o755); err != nil {
		return "", fmt.Errorf("create relocated data dir: %w", err)
	}
	if err := os.Chmod(entry, 0o755); err != nil {
		return "", fmt.Errorf("chmod relocated data dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(entry, "origin"), []byte(p.dir+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("record relocated data dir origin: %w", err)
	}
	p.log.Info("postgres data dir relocated: user postgres cannot reach Dir", "blocked_at", blocker, "data", dataDir)
	return dataDir, nil
}

// gcRelocated removes relocated clusters whose Dir no longer records them
// (typically a deleted t.TempDir()) and that no live server uses.
func (p *Postgres) gcRelocated(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "pg-") {
			continue
		}
		entry := filepath.Join(root, e.Name())
		origin, err := os.ReadFile(filepath.Join(entry, "origin"))
		if err != nil {
			continue // not ours, or half-created by a concurrent start
		}
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(origin)), pgDataDirFile)); err == nil {
			continue
		}
		data := filepath.Join(entry, "data")
		if len(processesWithCwd(data)) > 0 {
			continue
		}
		if err := os.RemoveAll(entry); err == nil {
			p.log.Info("removed orphaned relocated postgres data dir", "path", entry)
		}
	}
}

// firstUntraversable returns the first directory on the way to (and
// including) path that cred's user may not search, or "" when the user can
// reach path. It reads permission bits only (no ACLs), which matches how
// Debian machines are set up.
func firstUntraversable(path string, cred *syscall.Credential) (string, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", path, err)
	}
	cur := "/"
	parts := strings.Split(strings.TrimPrefix(resolved, "/"), "/")
	for i := -1; i < len(parts); i++ {
		if i >= 0 {
			if parts[i] == "" {
				continue
			}
			cur = filepath.Join(cur, parts[i])
		}
		var st syscall.Stat_t
		if err := syscall.Stat(cur, &st); err != nil {
			return "", fmt.Errorf("stat %s: %w", cur, err)
		}
		if !canSearch(&st, cred) {
			return fmt.Sprintf("%s (mode %#o, owner uid %d)", cur, st.Mode&0o7777, st.Uid), nil
		}
	}
	return "", nil
}

// canSearch applies the Unix owner/group/other rule for the x bit.
func canSearch(st *syscall.Stat_t, cred *syscall.Credential) bool {
	if cred.Uid == 0 {
		return true
	}
	if st.Uid == cred.Uid {
		return st.Mode&0o100 != 0
	}
	inGroup := st.Gid == cred.Gid
	for _, g := range cred.Groups {
		inGroup = inGroup || st.Gid == g
	}
	if inGroup {
		return st.Mode&0o010 != 0
	}
	return st.Mode&0o001 != 0
}

// lookupCredential returns the uid, gid and supplementary groups of an OS user.
func lookupCredential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	return cred, nil
}
