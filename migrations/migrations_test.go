package migrations

import (
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestColumnAdded: only "the column already exists" of an ADD COLUMN is
// taken for done, as the two ends of the supported range say it (the
// messages are theirs); every other failure stays one.
func TestColumnAdded(t *testing.T) {
	old := &clickhouse.Exception{Code: 44, Message: "Cannot add column key_id: column with this name already exists"}
	current := &clickhouse.Exception{Code: 15, Message: "Cannot add column `key_id`: column with this name already exists. (DUPLICATE_COLUMN)"}
	unknown := &clickhouse.Exception{Code: 60, Message: "Table default.nothing doesn't exist."}
	add := "ALTER TABLE events\n  ADD COLUMN key_id UInt64 DEFAULT 0"
	tests := []struct {
		stmt string
		err  error
		want bool
	}{
		{add, old, true},
		{add, current, true},
		{add, fmt.Errorf("exec: %w", current), true},
		{"alter table events add column key_id UInt64", old, true},
		{add, unknown, false},
		{add, fmt.Errorf("read: connection reset"), false},
		{"ALTER TABLE events MODIFY COLUMN key_id UInt32", old, false},
		{"CREATE TABLE events (a String) ENGINE = Memory", current, false},
		{add, &clickhouse.Exception{Code: 44, Message: "Illegal column"}, false},
	}
	for _, tt := range tests {
		if got := columnAdded(tt.stmt, tt.err); got != tt.want {
			t.Errorf("columnAdded(%q, %v) = %v, want %v", tt.stmt, tt.err, got, tt.want)
		}
	}
}
