package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running Kafka-protocol broker: kfake in-process, or a real
// Apache Kafka process. Tests and keel dev use it without caring which.
type Broker interface {
	// Brokers returns the bootstrap addresses, e.g. ["127.0.0.1:PORT"].
	Brokers() []string
	// Stop shuts the broker down cleanly and waits for it. Idempotent.
	Stop(ctx context.Context) error
	// Kill stops the broker abruptly: SIGKILL for a process; for kfake,
	// which has no abrupt mode, the same as Stop. Idempotent.
	Kill() error
	// Start starts the broker again on the same port with the same data.
	Start(ctx context.Context) error
	// Name is "kfake" or "apache-kafka".
	Name() string
}

// KfakeConfig configures an in-process kfake broker.
type KfakeConfig struct {
	// Dir is kfake's data directory: topics, messages and committed group
	// offsets survive Stop/Start. "" keeps everything in memory, so a
	// restart starts empty.
	Dir string
	// Port is the loopback TCP port; 0 picks a free one.
	Port int
	// Partitions is the partition count of auto-created topics (default 8).
	Partitions int
	// Logger receives lifecycle messages and kfake's own log lines (kfake's
	// info level is logged at slog debug: it is per request); nil discards.
	Logger *slog.Logger
}

// Kfake is franz-go's in-process Kafka-protocol broker: one broker listening
// on a loopback TCP port, so other processes can produce and consume too.
// Its methods are safe for concurrent use.
type Kfake struct {
	cfg  KfakeConfig
	port int
	log  *slog.Logger

	mu      sync.Mutex
	cluster *kfake.Cluster
	lock    *os.File // flock on Dir while running, see Start
}

var _ Broker = (*Kfake)(nil)

// StartKfake starts a single kfake broker on 127.0.0.1 with auto topic
// creation enabled.
func StartKfake(ctx context.Context, cfg KfakeConfig) (*Kfake, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 8
	}
	if cfg.Dir != "" {
		dir, err := filepath.Abs(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("start kfake: %w", err)
		}
		cfg.Dir = dir
	}
	// A free port picked here may be taken before the broker binds it (the
	// kernel hands the same range out for outgoing connections), so when
	// the port was ours to choose, a taken one means choosing again.
	for attempt := 1; ; attempt++ {
		port, err := portOrFree(cfg.Port)
		if err != nil {
			return nil, fmt.Errorf("start kfake: %w", err)
		}
		k := &Kfake{cfg: cfg, port: port, log: orDiscard(cfg.Logger).With("component", "kfake")}
		err = k.Start(ctx)
		if err == nil {
			return k, nil
		}
		if cfg.Port != 0 || attempt == 5 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
}

// Name returns "kfake".
func (k *Kfake) Name() string { return "kfake" }

// Brokers returns the single broker's address.
func (k *Kfake) Brokers() []string { return []string{fmt.Sprintf("127.0.0.1:%d", k.port)} }

// Start starts the broker again on the same port, reloading Dir's data,
// after Stop or Kill. It does nothing when the broker is already running.
func (k *Kfake) Start(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cluster != nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start kfake: %w", err)
	}
	opts := []kfake.Opt{
		// Ports sets the broker count too: one port, one broker.
		kfake.Ports(k.port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(k.cfg.Partitions),
		kfake.WithLogger(kfakeLogger{k.log}),
	}
	if k.cfg.Dir != "" {
		// kfake does not guard its data directory; two clusters on one
		// directory would corrupt it, so we take a lock.
		lock, err := lockDir(k.cfg.Dir, ".devstack-kfake.lock")
		if err != nil {
			return fmt.Errorf("start kfake: %w", err)
		}
		k.lock = lock
		// kfake restores consumer-group members from session_state.json
		// at start, and a member restored that way which never comes back
		// can keep its partitions for minutes (seen with a loader killed
		// while the broker restarted). A real broker's members rejoin after
		// a restart anyway, so start without them; committed offsets live
		// elsewhere in Dir and survive.
		if err := os.Remove(filepath.Join(k.cfg.Dir, "session_state.json")); err != nil && !os.IsNotExist(err) {
			k.unlock()
			return fmt.Errorf("start kfake: %w", err)
		}
		opts = append(opts, kfake.DataDir(k.cfg.Dir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		k.unlock()
		return fmt.Errorf("start kfake on 127.0.0.1:%d: %w", k.port, err)
	}
	k.cluster = c
	k.log.Info("kfake ready", "addr", c.ListenAddrs(), "dir", k.cfg.Dir)
	return nil
}

// Stop closes the broker, persisting its state to Dir, and disconnects
// clients. When ctx ends first, Stop returns ctx's error and the close
// finishes in the background. Stopping a stopped broker does nothing.
func (k *Kfake) Stop(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cluster == nil {
		return nil
	}
	c, lock := k.cluster, k.lock
	k.cluster, k.lock = nil, nil
	done := make(chan struct{})
	go func() {
		c.Close()
		// The directory stays locked until kfake has saved its state, so
		// a Start racing a slow Stop fails instead of reading half of it.
		if lock != nil {
			lock.Close()
		}
		close(done)
	}()
	select {
	case <-done:
		k.log.Info("kfake stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop kfake: %w", ctx.Err())
	}
}

// Kill is Stop without a deadline: kfake runs in our process and has no way
// to stop without saving, so a crash cannot be simulated more faithfully.
func (k *Kfake) Kill() error {
	return k.Stop(context.Background())
}

// unlock releases the data directory lock; callers hold k.mu.
func (k *Kfake) unlock() {
	if k.lock != nil {
		k.lock.Close() // closing the descriptor drops the flock
		k.lock = nil
	}
}

// lockDir creates dir and takes an exclusive, non-blocking flock on
// dir/name. The lock is released when the returned file is closed or the
// process dies.
func lockDir(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dir: %w", err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another broker (lock %s): %w", dir, path, err)
	}
	return f, nil
}

// kfakeLogger forwards kfake's log lines to slog. kfake logs every request
// at info, so that level maps to slog debug.
type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var sl slog.Level
	switch level {
	case kfake.LogLevelError:
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
	case kfake.LogLevelInfo:
		sl = slog.LevelDebug
	default:
		sl = slog.LevelDebug - 4
	}
	ctx := context.Background()
	if l.log.Enabled(ctx, sl) {
		l.log.Log(ctx, sl, fmt.Sprintf(format, args...))
	}
}
