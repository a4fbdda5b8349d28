package client

import (
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/ingest"
)

func TestClientConfigValidate(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:8081", Key: testKey}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"minimal", func(*Config) {}, ""},
		{"all set", func(c *Config) {
			c.BatchSize, c.FlushInterval, c.MaxBuffered, c.Concurrency, c.MaxBackoff = ingest.MaxBatchEvents, time.Second, 5, 3, time.Second
		}, ""},
		{"no URL", func(c *Config) { c.URL = "" }, "URL is required"},
		{"not http", func(c *Config) { c.URL = "ftp://x" }, "http(s)"},
		{"no host", func(c *Config) { c.URL = "http://" }, "http(s)"},
		{"no key", func(c *Config) { c.Key = "" }, "Key is required"},
		{"key with newline", func(c *Config) { c.Key += "\n" }, "Key holds"},
		{"batch too large", func(c *Config) { c.BatchSize = ingest.MaxBatchEvents + 1 }, "BatchSize"},
		{"negative batch", func(c *Config) { c.BatchSize = -1 }, "BatchSize"},
		{"negative interval", func(c *Config) { c.FlushInterval = -1 }, "FlushInterval"},
		{"negative buffer", func(c *Config) { c.MaxBuffered = -1 }, "MaxBuffered"},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }, "Concurrency"},
		{"negative backoff", func(c *Config) { c.MaxBackoff = -1 }, "MaxBackoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}
