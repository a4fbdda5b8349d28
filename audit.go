package keel

import (
	"encoding/json"
	"time"
)

// AuditEntry is one change to one record: who made it, when, and the record
// before and after (JSON; null when created or deleted).
type AuditEntry struct {
	ID       int64
	At       time.Time
	ActorID  int64  // 0 = System
	Actor    string // the actor's email at the time
	Action   string // e.g. "order.approve"
	Entity   string // e.g. "order"
	EntityID int64
	Before   json.RawMessage
	After    json.RawMessage
}

// AuditFilter selects audit entries. Empty fields do not filter.
type AuditFilter struct {
	ActorID  int64
	Entity   string
	EntityID int64
	From, To time.Time
	Page
}
