package warehouse

import (
	"reflect"
	"testing"
	"time"
)

// TestGroupConfig: each loader's configuration reaches the shared settings
// field by field (the conversion lists them by position), and what it
// leaves unset takes that loader's defaults.
func TestGroupConfig(t *testing.T) {
	brokers := []string{"b:9092"}
	set := groupConfig{brokers: brokers, topic: "t", id: "g", batchRows: 1, batchBytes: 2,
		flushInterval: 3 * time.Millisecond, insertTimeout: 4 * time.Second, sessionTimeout: 5 * time.Second}
	tests := []struct {
		name string
		got  groupConfig
		want groupConfig
	}{
		{"events, all set", LoaderConfig{Brokers: brokers, Topic: "t", Group: "g", BatchRows: 1, BatchBytes: 2,
			FlushInterval: 3 * time.Millisecond, InsertTimeout: 4 * time.Second, SessionTimeout: 5 * time.Second}.groupConfig(), set},
		{"facts, all set", FactLoaderConfig{Brokers: brokers, Topic: "t", Group: "g", BatchRows: 1, BatchBytes: 2,
			FlushInterval: 3 * time.Millisecond, InsertTimeout: 4 * time.Second, SessionTimeout: 5 * time.Second}.groupConfig(), set},
		{"events, defaults", LoaderConfig{Brokers: brokers}.groupConfig(), groupConfig{brokers: brokers, topic: "keel.events", id: "keel-loader",
			batchRows: 25000, batchBytes: 32 << 20, flushInterval: 200 * time.Millisecond, insertTimeout: 10 * time.Second, sessionTimeout: 10 * time.Second}},
		{"facts, defaults", FactLoaderConfig{Brokers: brokers}.groupConfig(), groupConfig{brokers: brokers, topic: "keel.facts", id: "keel-facts-loader",
			batchRows: 5000, batchBytes: 8 << 20, flushInterval: 200 * time.Millisecond, insertTimeout: 10 * time.Second, sessionTimeout: 10 * time.Second}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, tt.got, tt.want)
		}
	}
}
