package console

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/keelhq/keel"
)

// The revenue area's records in the JSON API: the revenue settings
// (leadership, finance and admin read them; admin changes them) and the
// sales and marketing spend CAC divides (finance and admin enter it).

// revenueSettingsJSON is the revenue settings as the API shows them
// (METRICS.md names each).
type revenueSettingsJSON struct {
	MRRDay              string `json:"mrr_day"`
	ChurnTiming         string `json:"churn_timing"`
	NRRWithReactivation bool   `json:"nrr_with_reactivation"`
	RenewalGraceDays    int    `json:"renewal_grace_days"`
	CACMonths           int    `json:"cac_months"`
	GrossMarginPct      int    `json:"gross_margin_pct"`
	MainCurrency        string `json:"main_currency"` // "" = the one with the most MRR
}

func toRevenueSettingsJSON(s keel.RevenueSettings) revenueSettingsJSON {
	return revenueSettingsJSON{MRRDay: string(s.MRRDay), ChurnTiming: string(s.ChurnTiming), NRRWithReactivation: s.NRRWithReactivation,
		RenewalGraceDays: s.RenewalGraceDays, CACMonths: s.CACMonths, GrossMarginPct: s.GrossMarginPct, MainCurrency: s.MainCurrency}
}

func (s *server) handleRevenueSettingsGet() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.revenueReady(); err != nil {
			return err
		}
		if _, err := queryParams(r); err != nil {
			return err
		}
		settings, err := s.revenueRecords.RevenueSettings(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toRevenueSettingsJSON(settings))
		return nil
	})
}

// revenueSettingsRequest is the body of PUT /settings/revenue: a field
// left out keeps its value.
type revenueSettingsRequest struct {
	MRRDay              *string `json:"mrr_day"`
	ChurnTiming         *string `json:"churn_timing"`
	NRRWithReactivation *bool   `json:"nrr_with_reactivation"`
	RenewalGraceDays    *int    `json:"renewal_grace_days"`
	CACMonths           *int    `json:"cac_months"`
	GrossMarginPct      *int    `json:"gross_margin_pct"`
	MainCurrency        *string `json:"main_currency"`
}

// apply sets the fields the request names on s.
func (req revenueSettingsRequest) apply(s keel.RevenueSettings) keel.RevenueSettings {
	if req.MRRDay != nil {
		s.MRRDay = keel.MRRDay(*req.MRRDay)
	}
	if req.ChurnTiming != nil {
		s.ChurnTiming = keel.ChurnTiming(*req.ChurnTiming)
	}
	if req.NRRWithReactivation != nil {
		s.NRRWithReactivation = *req.NRRWithReactivation
	}
	if req.RenewalGraceDays != nil {
		s.RenewalGraceDays = *req.RenewalGraceDays
	}
	if req.CACMonths != nil {
		s.CACMonths = *req.CACMonths
	}
	if req.GrossMarginPct != nil {
		s.GrossMarginPct = *req.GrossMarginPct
	}
	if req.MainCurrency != nil {
		s.MainCurrency = *req.MainCurrency
	}
	return s
}

// handleRevenueSettingsPut changes the revenue settings (admin); the
// store validates them, naming the field, audits the change and has the
// warehouse compute every customer's revenue again with them.
func (s *server) handleRevenueSettingsPut() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.revenueReady(); err != nil {
			return err
		}
		var req revenueSettingsRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		current, err := s.revenueRecords.RevenueSettings(r.Context())
		if err != nil {
			return err
		}
		saved, err := s.revenueRecords.SetRevenueSettings(r.Context(), employeeFrom(r.Context()), req.apply(current))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toRevenueSettingsJSON(saved))
		return nil
	})
}

// spendJSON is a month's spend in one currency, in its minor units.
type spendJSON struct {
	Month     string  `json:"month"`
	Currency  string  `json:"currency"`
	Amount    int64   `json:"amount"`
	UpdatedBy *int64  `json:"updated_by"` // null = Keel itself
	UpdatedAt *string `json:"updated_at"`
}

func toSpendJSON(sp keel.Spend) spendJSON {
	out := spendJSON{Month: sp.Month.String(), Currency: sp.Currency, Amount: sp.Amount}
	if sp.UpdatedBy != 0 {
		id := sp.UpdatedBy
		out.UpdatedBy = &id
	}
	if !sp.UpdatedAt.IsZero() {
		t := stamp(sp.UpdatedAt)
		out.UpdatedAt = &t
	}
	return out
}

// handleSpendList is GET /spend?from=&to=: the spend entered for those
// months (the twelve up to this month by default), by month then
// currency.
func (s *server) handleSpendList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.revenueReady(); err != nil {
			return err
		}
		q, err := queryParams(r, "from", "to")
		if err != nil {
			return err
		}
		from, to, err := monthRangeQuery(q, s.thisMonth())
		if err != nil {
			return err
		}
		rows, err := s.revenueRecords.Spend(r.Context(), from, to)
		if err != nil {
			return err
		}
		items := make([]spendJSON, len(rows))
		for i, sp := range rows {
			items[i] = toSpendJSON(sp)
		}
		writeJSON(w, http.StatusOK, map[string]any{"from": from.String(), "to": to.String(), "items": items})
		return nil
	})
}

// spendRequest is the body of PUT /spend/{month}/{currency}.
type spendRequest struct {
	Amount *int64 `json:"amount"` // minor units of the currency
}

// handleSpendPut enters or changes a month's spend in one currency
// (finance, admin), audited and sent to the warehouse.
func (s *server) handleSpendPut() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.revenueReady(); err != nil {
			return err
		}
		m, err := keel.ParseMonth("month", chi.URLParam(r, "month"))
		if err != nil {
			return err
		}
		cur := chi.URLParam(r, "currency")
		if err := keel.ValidCurrency("currency", cur); err != nil {
			return err
		}
		var req spendRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		if req.Amount == nil {
			return keel.Invalid("amount", "required (minor units of %s)", cur)
		}
		saved, err := s.revenueRecords.SetSpend(r.Context(), employeeFrom(r.Context()), keel.Spend{Month: m, Currency: cur, Amount: *req.Amount})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toSpendJSON(saved))
		return nil
	})
}
