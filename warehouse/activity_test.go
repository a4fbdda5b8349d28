package warehouse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
)

// storeEvents stores events directly, as the loader would, at made-up
// Kafka positions of a topic no loader reads.
func storeEvents(t *testing.T, s *Store, evs []ingest.Event) {
	t.Helper()
	b := Batch{Topic: "test.direct"}
	for i := range evs {
		if evs[i].Props == "" {
			evs[i].Props = "{}"
		}
		b.AddEvent(&evs[i], Position{Partition: 0, Offset: time.Now().UnixNano() + int64(i)}, time.Now())
	}
	if err := s.Insert(context.Background(), &b); err != nil {
		t.Fatalf("insert: %v", err)
	}
}

func at(day string, clock string) time.Time {
	t, err := time.Parse(time.RFC3339, day+"T"+clock+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

func mustDay(t *testing.T, s string) Day {
	t.Helper()
	d, err := ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestActivityOnKnownData(t *testing.T) {
	_, s := testStack(t)
	const tenant = "act-known"
	ev := func(id, typ, user string, when time.Time, props string) ingest.Event {
		return ingest.Event{Tenant: tenant, ID: id, Type: typ, User: user, Time: when, Props: props}
	}
	evs := []ingest.Event{
		// 2026-11-20: u1 twice and u2 log in, u3 uses a feature.
		ev("l1", "login", "u1", at("2026-11-20", "08:00:00"), ""),
		ev("l2", "login", "u2", at("2026-11-20", "09:00:00"), ""),
		ev("l3", "login", "u1", at("2026-11-20", "14:00:00"), ""),
		ev("f1", "feature_used", "u3", at("2026-11-20", "10:00:00"), `{"feature":"export"}`),
		// The same login again (a duplicate that slipped through): counted once.
		ev("l1", "login", "u1", at("2026-11-20", "08:00:00"), ""),
		// 2026-11-17: u4 logs in (inside the week of the 20th).
		ev("l4", "login", "u4", at("2026-11-17", "08:00:00"), ""),
		// 2026-11-10: u5 views a page (inside the 30 days, outside the week).
		ev("p1", "page_view", "u5", at("2026-11-10", "08:00:00"), ""),
		// 2026-10-10: u6, outside every window of the 20th.
		ev("p2", "page_view", "u6", at("2026-10-10", "08:00:00"), ""),
		// 2026-11-20 23:30 UTC is already the 21st in Shanghai.
		ev("late", "page_view", "u7", at("2026-11-20", "23:30:00"), ""),
	}
	// Ten logins in the previous 14-day window: the trend is down (4 vs 10).
	for i := 0; i < 10; i++ {
		evs = append(evs, ev(fmt.Sprintf("old%d", i), "login", "u1", at("2026-10-30", "08:00:00").Add(time.Duration(i)*time.Minute), ""))
	}
	storeEvents(t, s, evs)

	ctx := context.Background()
	a, err := s.Activity(ctx, tenant, mustDay(t, "2026-11-17"), mustDay(t, "2026-11-20"), ActivitySettings{})
	if err != nil {
		t.Fatal(err)
	}
	want := []keel.ActivityDay{
		// MAU of the 17th: u4, u5 and u1 (who logged in on 2026-10-30).
		{Day: "2026-11-17", ActiveUsers: 1, Logins: 1, WAU: 1, MAU: 3},
		{Day: "2026-11-18", ActiveUsers: 0, Logins: 0, WAU: 1, MAU: 3},
		{Day: "2026-11-19", ActiveUsers: 0, Logins: 0, WAU: 1, MAU: 3},
		{Day: "2026-11-20", ActiveUsers: 4, Logins: 3, WAU: 5, MAU: 6},
	}
	if a.Tenant != tenant || len(a.Days) != len(want) {
		t.Fatalf("got %+v", a)
	}
	for i := range want {
		if a.Days[i] != want[i] {
			t.Errorf("day %d: got %+v, want %+v", i, a.Days[i], want[i])
		}
	}
	if a.Trend != keel.TrendDown {
		t.Errorf("trend = %s, want down (4 logins vs 10)", a.Trend)
	}

	// Logins only: u3 (feature) and u7 (page view) are not active.
	a, err = s.Activity(ctx, tenant, mustDay(t, "2026-11-20"), mustDay(t, "2026-11-20"), ActivitySettings{LoginsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Days[0]; got.ActiveUsers != 2 || got.Logins != 3 {
		t.Errorf("logins only: got %+v, want 2 active users and 3 logins", got)
	}

	// In Shanghai the 23:30 UTC page view belongs to the 21st.
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activity(ctx, tenant, mustDay(t, "2026-11-21"), mustDay(t, "2026-11-21"), ActivitySettings{Location: sh}); err == nil || !strings.Contains(err.Error(), "cut in UTC") {
		t.Errorf("Shanghai days from a rollup cut in UTC: err = %v, want a refusal naming UTC", err)
	}
	shs := storeIn(t, sh)
	storeEvents(t, shs, evs)
	a, err = shs.Activity(ctx, tenant, mustDay(t, "2026-11-21"), mustDay(t, "2026-11-21"), ActivitySettings{Location: sh})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Days[0]; got.ActiveUsers != 1 {
		t.Errorf("Shanghai 2026-11-21: got %+v, want 1 active user", got)
	}
}

func TestActivityRefusesBadRanges(t *testing.T) {
	_, s := testStack(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		tenant   string
		from, to string
	}{
		{"no tenant", "", "2026-11-01", "2026-11-02"},
		{"from after to", "t", "2026-11-02", "2026-11-01"},
		{"too long", "t", "2020-01-01", "2026-11-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Activity(ctx, tt.tenant, mustDay(t, tt.from), mustDay(t, tt.to), ActivitySettings{})
			if keel.ErrorCode(err) != keel.EINVALID {
				t.Errorf("err = %v, want an invalid-input error", err)
			}
		})
	}
}

func TestLateEventUpdatesItsOwnDay(t *testing.T) {
	stack, s := testStack(t)
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 2)
	const tenant = "late-1"
	now := time.Now().UTC()
	tenDaysAgo := now.Add(-10 * 24 * time.Hour)
	startLoader(t, LoaderConfig{Brokers: brokers, Topic: topic, Group: topic}, s)
	produce(t, brokers, topic, eventMsg(tenant, "today", ingest.TypeLogin, "u1", now))
	waitRows(t, s, tenant, 1)

	day := DayOf(tenDaysAgo, time.UTC)
	before, err := s.Activity(context.Background(), tenant, day, day, ActivitySettings{})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, topic,
		eventMsg(tenant, "late-a", ingest.TypeLogin, "u2", tenDaysAgo),
		eventMsg(tenant, "late-b", ingest.TypeLogin, "u3", tenDaysAgo.Add(time.Minute)),
		kafka.Message{Key: []byte(tenant), Value: eventMsg(tenant, "late-a", ingest.TypeLogin, "u2", tenDaysAgo).Value})
	waitRows(t, s, tenant, 3)
	after, err := s.Activity(context.Background(), tenant, day, day, ActivitySettings{})
	if err != nil {
		t.Fatal(err)
	}
	if before.Days[0].Logins != 0 || after.Days[0].Logins != 2 || after.Days[0].ActiveUsers != 2 {
		t.Errorf("%s before: %+v, after: %+v; want 0 then 2 logins by 2 users", day, before.Days[0], after.Days[0])
	}
}

// TestRollupsMatchRawEvents recounts every tenant-day from raw events and
// compares it with the rollup — the check the crash test relies on.
func TestRollupsMatchRawEvents(t *testing.T) {
	_, s := testStack(t)
	if err := RollupsMatchRaw(context.Background(), s, ""); err != nil {
		t.Fatal(err)
	}
}
