package console

import (
	"net/http"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// handleActivityMetrics serves a tenant's daily activity from ClickHouse:
// to defaults to today in the reporting timezone, from to 29 days before.
// The answer is keel.Activity, whose JSON shape is the contract shared with
// `keel activity --json`.
func (s *server) handleActivityMetrics() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r, "tenant", "from", "to")
		if err != nil {
			return err
		}
		tenant := q.Get("tenant")
		if tenant == "" {
			return keel.Invalid("tenant", "required")
		}
		if err := keel.ValidTenant("tenant", tenant); err != nil {
			return err
		}
		to := s.today()
		if v := q.Get("to"); v != "" {
			if to, err = queryDay("to", v); err != nil {
				return err
			}
		}
		from := to.AddDays(-29)
		if v := q.Get("from"); v != "" {
			if from, err = queryDay("from", v); err != nil {
				return err
			}
		}
		a, err := s.Warehouse.Activity(r.Context(), tenant, from, to, s.Settings)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a)
		return nil
	})
}

func queryDay(field, s string) (warehouse.Day, error) {
	t, err := parseDay(field, s)
	if err != nil {
		return warehouse.Day{}, err
	}
	return warehouse.DayOf(t, time.UTC), nil
}
