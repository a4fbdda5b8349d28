package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

// The settings page (admin): the company's settings, a section each, each
// section a form of its own that posts to /settings/<section>: revenue,
// and health (health_settings_form.go).

// revenueSettingsForm is the revenue section as shown, or as typed when
// it was refused.
type revenueSettingsForm struct {
	MRRDays, ChurnTimings, CACMonths []option
	Currencies                       []option
	NRRWithReactivation              bool
	RenewalGraceDays, GrossMarginPct string
	Error                            string
}

type settingsData struct {
	Revenue revenueSettingsForm
	Health  *healthSettingsForm // nil without the warehouse's health
}

func (s *server) revenueSettingsFormOf(l lang, st keel.RevenueSettings) revenueSettingsForm {
	f := revenueSettingsForm{
		MRRDays:             options(l, keel.MRRDays, mrrDayLabel, string(st.MRRDay)),
		ChurnTimings:        options(l, keel.ChurnTimings, churnTimingLabel, string(st.ChurnTiming)),
		NRRWithReactivation: st.NRRWithReactivation,
		RenewalGraceDays:    strconv.Itoa(st.RenewalGraceDays),
		GrossMarginPct:      strconv.Itoa(st.GrossMarginPct),
	}
	for _, n := range []int{1, 3} {
		label := l.T("the month itself")
		if n == 3 {
			label = l.T("a trailing 3 months")
		}
		f.CACMonths = append(f.CACMonths, option{Value: strconv.Itoa(n), Label: label, Selected: n == st.CACMonths})
	}
	f.Currencies = []option{{Value: "", Label: l.T("the one with the most MRR"), Selected: st.MainCurrency == ""}}
	for _, c := range keelCurrencies {
		f.Currencies = append(f.Currencies, option{Value: c, Label: c, Selected: c == st.MainCurrency})
	}
	return f
}

// handleSettingsPage is GET /settings.
func (s *server) handleSettingsPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.revenueReady(); err != nil {
			return err
		}
		return s.renderSettings(w, r, http.StatusOK, settingsData{})
	})
}

// renderSettings shows the settings page with d's sections, and the
// others as saved.
func (s *server) renderSettings(w http.ResponseWriter, r *http.Request, status int, d settingsData) error {
	l := s.langOf(r)
	if d.Revenue.MRRDays == nil {
		st, err := s.revenueRecords.RevenueSettings(r.Context())
		if err != nil {
			return err
		}
		d.Revenue = s.revenueSettingsFormOf(l, st)
	}
	if d.Health == nil && s.healthReady() == nil {
		st, err := s.healthRecords.HealthSettings(r.Context())
		if err != nil {
			return err
		}
		d.Health = healthSettingsFormOf(l, st, nil)
	}
	s.render(w, r, status, "settings", page{Title: l.T("Settings"), Nav: "settings", Data: d})
	return nil
}

// handleRevenueSettingsForm is POST /settings/revenue: the store checks
// every setting, naming the field, audits the change and has the
// warehouse compute revenue again with it.
func (s *server) handleRevenueSettingsForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.revenueReady(); err != nil {
			return err
		}
		l := s.langOf(r)
		st, err := revenueSettingsFromForm(r)
		if err == nil {
			_, err = s.revenueRecords.SetRevenueSettings(r.Context(), employeeFrom(r.Context()), st)
		}
		if formRefused(err) {
			f := s.revenueSettingsFormOf(l, st)
			f.RenewalGraceDays, f.GrossMarginPct = r.PostFormValue("renewal_grace_days"), r.PostFormValue("gross_margin_pct")
			f.Error = l.Refusal(err)
			return s.renderSettings(w, r, statusOf(keel.ErrorCode(err)), settingsData{Revenue: f})
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/settings#revenue", l.T("Revenue settings saved. Revenue is computed again with them in a moment."))
		return nil
	})
}

// revenueSettingsFromForm reads the revenue section's fields; what it
// returns with an error is what could be read, to show again.
func revenueSettingsFromForm(r *http.Request) (keel.RevenueSettings, error) {
	st := keel.RevenueSettings{
		MRRDay:              keel.MRRDay(r.PostFormValue("mrr_day")),
		ChurnTiming:         keel.ChurnTiming(r.PostFormValue("churn_timing")),
		NRRWithReactivation: r.PostFormValue("nrr_with_reactivation") == "on",
		MainCurrency:        strings.TrimSpace(r.PostFormValue("main_currency")),
	}
	for _, f := range []struct {
		name string
		to   *int
	}{{"renewal_grace_days", &st.RenewalGraceDays}, {"cac_months", &st.CACMonths}, {"gross_margin_pct", &st.GrossMarginPct}} {
		v := r.PostFormValue(f.name)
		if strings.TrimSpace(v) == "" {
			return st, keel.Invalid(f.name, "required")
		}
		n, err := formInt(f.name, v)
		if err != nil {
			return st, err
		}
		if n < -1_000_000 || n > 1_000_000 {
			return st, keel.Invalid(f.name, "%q is not a whole number", v)
		}
		*f.to = int(n)
	}
	return st, nil
}
