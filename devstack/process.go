package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FreePort returns a free loopback TCP port.
//
// The port is found by binding 127.0.0.1:0 and closing the listener again, so
// another process could in principle take it before the caller binds it; for
// throwaway local servers that race is acceptable, and the servers fix their
// port at first start so restarts never need a new one.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitHTTP polls url until it answers 200 (a server's /readyz), for up to
// timeout or until ctx ends: how keel dev and the benchmarks wait for the
// keel parts they start. The error says what the last attempt got.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s: %s", url, resp.Status)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %s: %w", timeout, last)
}

// portOrFree returns port, or a free port when port is 0.
func portOrFree(port int) (int, error) {
	if port != 0 {
		return port, nil
	}
	return FreePort()
}

// checkPortsFree fails when one of the loopback ports is already taken.
//
// We check before starting a server because otherwise the readiness probe
// could talk to whatever else holds the port (say a ClickHouse from another
// experiment) and report success for a server that in fact failed to bind.
func checkPortsFree(ports ...int) error {
	for _, port := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("port 127.0.0.1:%d is not free: %w", port, err)
		}
		l.Close()
	}
	return nil
}

// orDiscard returns l, or a logger that drops everything when l is nil.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// process is one running child process whose output goes to a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // written before done is closed
}

// startProcess starts cmd with stdout and stderr appended to logPath.
//
// The log file is handed to the child directly (no pipes), so the child keeps
// logging even if nobody reads, and its grandchildren (postgres backends)
// can hold the file without blocking our Wait.
func startProcess(name string, cmd *exec.Cmd, logPath string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	fmt.Fprintf(f, "\n==== devstack: %s starting at %s: %s\n", name, time.Now().Format(time.RFC3339), strings.Join(cmd.Args, " "))
	cmd.Stdout = f
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has already exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes how the process ended, for "exited before ready" errors.
func (p *process) exitError() error {
	if p.waitErr == nil {
		return errors.New("exited with status 0")
	}
	return p.waitErr
}

// kill sends SIGKILL and waits until the process is reaped.
func (p *process) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to exit with sig and waits up to grace; after that,
// or when ctx ends first, it escalates to SIGKILL so nothing is left running.
// It returns an error only when ctx ended before the process exited by itself.
func (p *process) stop(ctx context.Context, log *slog.Logger, sig syscall.Signal, grace time.Duration) error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		log.Warn("process did not exit in time, killing it", "process", p.name, "grace", grace)
		p.kill()
		return nil
	case <-ctx.Done():
		p.kill()
		return fmt.Errorf("stop %s: killed after %w", p.name, ctx.Err())
	}
}

// waitReady calls check until it succeeds, the process exits, or timeout or
// ctx runs out. The error names the last failed check, so a caller can wrap it
// with the log tail.
func waitReady(ctx context.Context, p *process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		err := check(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %w", p.name, p.exitError())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w (last error: %v)", p.name, timeout, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// logTail returns the last lines of a log file, for error messages: a server
// that does not come up almost always says why in its log.
func logTail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log at %s: %v)", path, err)
	}
	defer f.Close()
	const maxBytes = 16 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		_, _ = f.Seek(st.Size()-maxBytes, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	b = bytes.TrimRight(b, "\n")
	all := strings.Split(string(b), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// withLogTail wraps err with the tails of the given log files.
func withLogTail(err error, paths ...string) error {
	var sb strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&sb, "\n--- last lines of %s ---\n%s", p, logTail(p, 30))
	}
	return fmt.Errorf("%w%s", err, sb.String())
}

// childAttrs returns the SysProcAttr every server child gets.
//
// Pdeathsig makes the kernel signal the child when we die (even by SIGKILL),
// so servers never outlive a crashed test binary. Setpgid keeps a terminal's
// Ctrl-C from reaching the servers directly: keel dev catches it and stops
// them in order instead.
func childAttrs(deathSig syscall.Signal, cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: deathSig, Setpgid: true, Credential: cred}
}
