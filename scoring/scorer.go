// Package scoring runs Keel's daily health scoring (METRICS.md, "Health
// and churn warnings"): for every customer with a subscription in service
// or ended lately, each day's score from what was known by the end of that
// day — activity from ClickHouse's daily rollups, subscriptions and orders
// from Postgres as known then — stored as a daily snapshot in ClickHouse,
// and the churn-warning rules evaluated on it, their warnings kept in
// Postgres.
//
// One scorer works at a time (a Postgres advisory lock), so keel dev and
// keel console both running the schedule never score twice at once;
// scoring a day again replaces it (warehouse.WriteHealthDay). Warnings
// are evaluated only going forward: a backfill of days before the last
// one evaluated recomputes their scores but leaves the warnings' history
// as it was lived.
package scoring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// Records is what the scorer reads and writes in Postgres.
type Records interface {
	HealthSettings(ctx context.Context) (keel.HealthSettings, error)
	HealthRecords(ctx context.Context) ([]postgres.HealthCustomer, map[int64]string, error)
	ApplyAlertEvaluations(ctx context.Context, day time.Time, evals []postgres.AlertEvaluation) (postgres.AlertChanges, error)
	LastAlertsDay(ctx context.Context) (time.Time, error)
	ScoredDays(ctx context.Context, from, to time.Time) (map[time.Time]bool, error)
	MarkScored(ctx context.Context, day time.Time, n int, alerts bool) error
	WithScoringLock(ctx context.Context, fn func() error) (bool, error)
	LiveAlertCounts(ctx context.Context) (map[keel.AlertRule]int, error)
}

// Warehouse is what the scorer reads and writes in ClickHouse.
type Warehouse interface {
	ScoreInputs(ctx context.Context, from, to warehouse.Day, s warehouse.ActivitySettings, h keel.HealthSettings, fn func(warehouse.ScoreInput) error) error
	WriteHealthDay(ctx context.Context, day time.Time, rows []warehouse.HealthRow) error
	Health(ctx context.Context, f warehouse.HealthFilter, fn func(warehouse.HealthRow) error) error
}

var (
	_ Records   = (*postgres.DB)(nil)
	_ Warehouse = (*warehouse.Store)(nil)
)

// Config configures a Scorer.
type Config struct {
	Calendar keel.Calendar    // the reporting timezone: which day is today
	Now      func() time.Time // default time.Now
	// Registerer receives the scorer's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// OnScheduled, when set, runs once the scheduled day (yesterday) is
	// scored — after scoring it, and on every tick after that while it is
	// the day due, so that what follows the scoring (the morning digest)
	// is done even when another scorer scored the day or this one stopped
	// before it: it must do its work once and cost little after that. r
	// holds only Day when the day was scored before.
	OnScheduled func(ctx context.Context, r DayResult) error
}

// Scorer scores customers' health.
type Scorer struct {
	cfg Config
	pg  Records
	ch  Warehouse
	log *slog.Logger
	m   metrics
}

type metrics struct {
	duration prometheus.Histogram
	scored   prometheus.Gauge
	open     *prometheus.GaugeVec
	runs     *prometheus.CounterVec
}

// New returns a scorer; it fails when its metrics cannot be registered.
func New(cfg Config, pg Records, ch Warehouse, log *slog.Logger) (*Scorer, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Scorer{cfg: cfg, pg: pg, ch: ch, log: log, m: metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keel_scoring_duration_seconds",
			Help: "Time to score every customer for one day.", Buckets: prometheus.ExponentialBuckets(0.1, 2, 10)}),
		scored: prometheus.NewGauge(prometheus.GaugeOpts{Name: "keel_scoring_customers_scored",
			Help: "Customers scored in the last day scored."}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "keel_alerts_open",
			Help: "Churn warnings open, acknowledged or snoozed, by rule."}, []string{"rule"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keel_scoring_days_total",
			Help: "Days scored, by outcome (ok, failed, skipped: another scorer held the lock)."}, []string{"outcome"}),
	}}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.m.duration, s.m.scored, s.m.open, s.m.runs} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("scoring: register metrics: %w", err)
			}
		}
	}
	return s, nil
}

// DayResult is what scoring a day did.
type DayResult struct {
	Day             time.Time
	Scored          int
	Duration        time.Duration
	AlertsEvaluated bool
	Alerts          postgres.AlertChanges
}

// ErrBusy is returned when another scorer holds the lock.
var ErrBusy = errors.New("another scorer is at work")

// Yesterday is the last complete reporting day: what the daily run scores.
func (s *Scorer) Yesterday() time.Time {
	return s.cfg.Calendar.Day(s.cfg.Now()).AddDate(0, 0, -1)
}

// Score scores every day of [from, to] (reporting days, to no later than
// today), in order, and returns what each did. It returns ErrBusy when
// another scorer is at work.
func (s *Scorer) Score(ctx context.Context, from, to time.Time) ([]DayResult, error) {
	if to.Before(from) {
		return nil, keel.Invalid("from", "%s is after to (%s)", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	if today := s.cfg.Calendar.Day(s.cfg.Now()); to.After(today) {
		return nil, keel.Invalid("to", "%s is after today (%s)", to.Format(time.DateOnly), today.Format(time.DateOnly))
	}
	if days := to.Sub(from).Hours()/24 + 1; days > 731 {
		return nil, keel.Invalid("from", "%d days at once; at most %d", int(days), 731)
	}
	var out []DayResult
	got, err := s.pg.WithScoringLock(ctx, func() error {
		var err error
		out, err = s.score(ctx, from, to)
		return err
	})
	if !got && err == nil {
		s.m.runs.WithLabelValues("skipped").Inc()
		return nil, ErrBusy
	}
	return out, err
}

func (s *Scorer) score(ctx context.Context, from, to time.Time) ([]DayResult, error) {
	settings, err := s.pg.HealthSettings(ctx)
	if err != nil {
		return nil, err
	}
	customers, units, err := s.pg.HealthRecords(ctx)
	if err != nil {
		return nil, err
	}
	lastAlerts, err := s.pg.LastAlertsDay(ctx)
	if err != nil {
		return nil, err
	}
	// The band of the day before the first, for "fell into red".
	yesterday := map[int64]keel.Band{}
	prev := from.AddDate(0, 0, -1)
	if err := s.ch.Health(ctx, warehouse.HealthFilter{From: prev, To: prev}, func(r warehouse.HealthRow) error {
		yesterday[r.CustomerID] = r.Band
		return nil
	}); err != nil {
		return nil, err
	}
	var out []DayResult
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		r, bands, err := s.scoreDay(ctx, day, settings, customers, units, yesterday, day.After(lastAlerts))
		s.m.runs.WithLabelValues(outcome(err)).Inc()
		if err != nil {
			return out, err
		}
		yesterday = bands
		out = append(out, r)
		s.log.Info("scoring: day scored", "day", day.Format(time.DateOnly), "customers", r.Scored, "took", r.Duration.Round(time.Millisecond),
			"raised", r.Alerts.Raised, "cleared", r.Alerts.Cleared, "warnings_evaluated", r.AlertsEvaluated)
	}
	s.countAlerts(ctx)
	return out, nil
}

// countAlerts sets keel_alerts_open from Postgres: after scoring, and on
// each tick of Run, so people's work on the warnings shows within a
// minute in every scoring process, the one that lost the lock too.
func (s *Scorer) countAlerts(ctx context.Context) {
	counts, err := s.pg.LiveAlertCounts(ctx)
	if err != nil {
		return
	}
	for _, rule := range keel.AlertRules {
		s.m.open.WithLabelValues(string(rule)).Set(float64(counts[rule]))
	}
}

func outcome(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// scoreDay scores one day: every customer the day scores, its snapshot,
// and (when evaluate) the warnings. It returns the day's bands.
func (s *Scorer) scoreDay(ctx context.Context, day time.Time, settings keel.HealthSettings, customers []postgres.HealthCustomer,
	units map[int64]string, yesterday map[int64]keel.Band, evaluate bool) (DayResult, map[int64]keel.Band, error) {
	start := time.Now()
	cal := s.cfg.Calendar
	activity := map[string]warehouse.ScoreInput{}
	d := warehouse.DayOf(day, time.UTC)
	as := warehouse.ActivitySettings{Location: cal.Location(), Now: s.cfg.Now}
	if err := s.ch.ScoreInputs(ctx, d, d, as, settings, func(x warehouse.ScoreInput) error {
		activity[x.Tenant] = x
		return nil
	}); err != nil {
		return DayResult{}, nil, err
	}
	bands := map[int64]keel.Band{}
	var rows []warehouse.HealthRow
	var evals []postgres.AlertEvaluation
	for _, c := range customers {
		subs := make([]keel.Subscription, len(c.Subscriptions))
		for i, sub := range c.Subscriptions {
			subs[i] = sub.KnownOn(day, cal)
		}
		in := keel.HealthInput{CustomerID: c.ID, Day: day}
		scored := keel.Scored(subs, day, settings.ScoredEndedDays)
		var h keel.HealthScore
		ok := false
		if scored {
			in.FillRecords(subs, c.Orders, units, day, cal)
			if c.TenantID != "" {
				in.Activity = true // a tenant silent in the lookback is a customer gone quiet, not one without data
				if x, found := activity[c.TenantID]; found {
					x.FillHealth(&in)
				}
			}
			if h, ok = keel.ScoreHealth(in, settings); ok {
				bands[c.ID] = h.Band
				rows = append(rows, warehouse.HealthRow{HealthScore: h, MRR: in.MRR.Round(), Currency: in.Currency})
			}
		}
		if !evaluate {
			continue
		}
		holds := map[keel.AlertRule]keel.Evidence{}
		if scored {
			holds = keel.EvaluateRules(keel.RuleInput{Input: in, Score: h, Scored: ok, Yesterday: yesterday[c.ID]}, settings)
		}
		for _, rule := range keel.AlertRules {
			e, on := holds[rule]
			evals = append(evals, postgres.AlertEvaluation{CustomerID: c.ID, Rule: rule, Holds: on, Evidence: e,
				MRRAtRisk: in.MRR.Round(), Currency: in.Currency})
		}
	}
	if err := s.ch.WriteHealthDay(ctx, day, rows); err != nil {
		return DayResult{}, nil, err
	}
	r := DayResult{Day: day, Scored: len(rows), AlertsEvaluated: evaluate}
	if evaluate {
		var err error
		if r.Alerts, err = s.pg.ApplyAlertEvaluations(ctx, day, evals); err != nil {
			return DayResult{}, nil, err
		}
	}
	if err := s.pg.MarkScored(ctx, day, len(rows), evaluate); err != nil {
		return DayResult{}, nil, err
	}
	r.Duration = time.Since(start)
	s.m.duration.Observe(r.Duration.Seconds())
	s.m.scored.Set(float64(r.Scored))
	return r, bands, nil
}

// Run scores on a schedule until ctx ends: at start, yesterday when it was
// not scored; then every day at the settings' score hour of the reporting
// timezone, the day before. It logs failures and tries again on the next
// tick (a minute later) rather than stopping, and returns nil when ctx
// ends.
func (s *Scorer) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	atStart := true
	for {
		if err := s.runDue(ctx, atStart); err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
			s.log.Error("scoring", "err", err)
		} else if err == nil {
			atStart = false
		}
		s.countAlerts(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// runDue scores yesterday when it is due and not scored yet — at start
// whatever the hour, else from the score hour on — and then runs
// OnScheduled (also when the day was scored already).
func (s *Scorer) runDue(ctx context.Context, atStart bool) error {
	settings, err := s.pg.HealthSettings(ctx)
	if err != nil {
		return err
	}
	y := s.Yesterday()
	if !atStart && s.cfg.Now().In(s.cfg.Calendar.Location()).Hour() < settings.ScoreHour {
		return nil
	}
	done, err := s.pg.ScoredDays(ctx, y, y)
	if err != nil {
		return err
	}
	if done[y] {
		if s.cfg.OnScheduled != nil {
			return s.cfg.OnScheduled(ctx, DayResult{Day: y})
		}
		return nil
	}
	rs, err := s.Score(ctx, y, y)
	if err != nil {
		return err
	}
	if s.cfg.OnScheduled != nil && len(rs) == 1 {
		return s.cfg.OnScheduled(ctx, rs[0])
	}
	return nil
}
