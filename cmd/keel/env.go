package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// devEnvFile is where `keel dev` writes the addresses of what it started.
const devEnvFile = ".keel/dev.env"

// Env resolves settings: the process environment first, then
// .keel/dev.env in the working directory, so every command run beside a
// `keel dev` finds its servers without being told.
type Env struct {
	getenv func(string) string
	file   map[string]string
	stdin  io.Reader // the process's standard input, for --password-stdin; nil = none
}

// NewEnv returns an Env over getenv and ./.keel/dev.env (if present).
func NewEnv(getenv func(string) string) *Env {
	e := &Env{getenv: getenv, file: map[string]string{}}
	if f, err := os.Open(devEnvFile); err == nil {
		defer f.Close()
		e.file = parseEnvFile(f)
	}
	return e
}

func parseEnvFile(r io.Reader) map[string]string {
	out := map[string]string{}
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// Get returns the value of a setting, or def when it is set nowhere.
func (e *Env) Get(key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	if v, ok := e.file[key]; ok && v != "" {
		return v
	}
	return def
}

// writeDevEnv writes the dev.env file atomically.
func writeDevEnv(dir string, vars [][2]string) error {
	var sb strings.Builder
	sb.WriteString("# Written by `keel dev`: the servers it started. Other keel commands run in\n# this folder read it when the variable is not set in the environment.\n")
	for _, kv := range vars {
		fmt.Fprintf(&sb, "%s=%s\n", kv[0], kv[1])
	}
	path := filepath.Join(dir, "dev.env")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(sb.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// Settings shared by several commands, with their environment variables.
const (
	envPG                = "KEEL_PG_URL"
	envClickHouse        = "KEEL_CLICKHOUSE_URL"
	envClickHouseCluster = "KEEL_CLICKHOUSE_CLUSTER"
	envClickHouseInsert  = "KEEL_CLICKHOUSE_INSERT"
	envBrokers           = "KEEL_KAFKA_BROKERS"
	envHTTPAddr          = "KEEL_HTTP_ADDR"
	envCollect           = "KEEL_COLLECT_ADDR"
	envLoadAddr          = "KEEL_LOAD_ADDR"
	envCollector         = "KEEL_COLLECTOR_URL"
	envConsoleURL        = "KEEL_CONSOLE_URL"
	envTopic             = "KEEL_EVENTS_TOPIC"
	envLogLevel          = "KEEL_LOG_LEVEL"
	envLateWindow        = "KEEL_LATE_WINDOW"
	envTimezone          = "KEEL_TIMEZONE"
	envScore             = "KEEL_SCORE"
	envSecureCookies     = "KEEL_SECURE_COOKIES"
	envProxies           = "KEEL_TRUSTED_PROXIES"
)

// Defaults for the settings above.
const (
	defaultPG         = "postgres://postgres@127.0.0.1:5432/keel?sslmode=disable"
	defaultClickHouse = "clickhouse://127.0.0.1:9000/default"
	defaultBrokers    = "127.0.0.1:9092"
	defaultHTTPAddr   = ":8080"
	defaultCollect    = ":8081"
	defaultLoadAddr   = ":8082"
	defaultTopic      = "keel.events"
)

// common holds the flags most commands share.
type common struct {
	pg, clickhouse, brokers, topic, logLevel string
	lateWindow                               time.Duration
	pprof                                    bool
}

func (c *common) register(fs *flag.FlagSet, env *Env) {
	fs.StringVar(&c.pg, "pg", env.Get(envPG, defaultPG), "Postgres URL ($"+envPG+")")
	fs.StringVar(&c.clickhouse, "clickhouse", env.Get(envClickHouse, defaultClickHouse), "ClickHouse URL, native protocol ($"+envClickHouse+")")
	fs.StringVar(&c.brokers, "brokers", env.Get(envBrokers, defaultBrokers), "Kafka brokers, comma-separated ($"+envBrokers+")")
	fs.StringVar(&c.topic, "topic", env.Get(envTopic, defaultTopic), "Kafka topic of product events ($"+envTopic+")")
	fs.StringVar(&c.logLevel, "log-level", env.Get(envLogLevel, "info"), "debug, info, warn or error ($"+envLogLevel+")")
	fs.BoolVar(&c.pprof, "pprof", env.Get("KEEL_PPROF", "") == "1", "serve Go's /debug/pprof/ profiles beside /metrics ($KEEL_PPROF=1); for diagnosis, off by default")
	fs.DurationVar(&c.lateWindow, "late-window", durationEnv(env, envLateWindow, 30*24*time.Hour), "late-arrival window: older events are rejected ($"+envLateWindow+")")
}

func (c *common) brokerList() []string {
	var out []string
	for _, b := range strings.Split(c.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func (c *common) logger(w io.Writer) *slog.Logger {
	return newLogger(w, c.logLevel)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func durationEnv(env *Env, key string, def time.Duration) time.Duration {
	v := env.Get(key, "")
	if v == "" {
		return def
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(v, "d")); err == nil {
		return time.Duration(n) * 24 * time.Hour
	}
	return def
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("keel "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
