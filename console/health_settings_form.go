package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

// The health section of the settings page (admin): the components'
// weights, the bands, the components' thresholds and the churn-warning
// rules' settings (METRICS.md). Each input is named as the API names the
// setting ("weights.login_trend", "red_max"), so a refusal names the
// input; a setting the form does not show keeps its value.

// settingField is one number of the form.
type settingField struct {
	Name, Label, Value string
	Min, Max           int
	Error              string // the refusal about this input
}

// healthSettingsForm is the health section as shown, or as typed when it
// was refused.
type healthSettingsForm struct {
	Weights, Bands, Components, Rules, Scoring []settingField
	Error                                      string
}

// healthFormGroups are the form's fields beside the weights, by group:
// each with its label, bounds (for the browser; the domain checks them
// again) and name.
var healthFormGroups = []struct {
	group  string
	fields []struct {
		name, label string
		min, max    int
	}
}{
	{"bands", []struct {
		name, label string
		min, max    int
	}{{"red_max", "Red up to (score)", 0, 99}, {"yellow_max", "Yellow up to (score)", 1, 99}}},
	{"components", []struct {
		name, label string
		min, max    int
	}{
		{"trend_up", "Login trend up scores", 0, 100}, {"trend_flat", "Login trend flat scores", 0, 100},
		{"trend_down", "Login trend down scores", 0, 100}, {"seats_full_pct", "Seat utilisation that scores 100 (%)", 1, 100},
		{"login_fresh_days", "A last login up to this many days ago scores 100", 0, 365},
		{"login_stale_days", "A last login this many days ago or more scores 0", 1, 366},
		{"renewal_safe_days", "A renewal further off than this many days scores 100", 1, 730},
		{"renewal_floor", "A renewal due today scores", 0, 100},
		{"payment_overdue_days", "A balance owed this many days scores 0", 1, 365},
		{"ticket_overdue_days", "A ticket open longer than this many days is overdue", 1, 365},
		{"ticket_open_penalty", "Points off per open ticket", 0, 100}, {"ticket_overdue_penalty", "Points off per overdue ticket", 0, 100},
	}},
	{"rules", []struct {
		name, label string
		min, max    int
	}{
		{"no_login_days", "No login for this many days", 1, 365}, {"login_drop_pct", "Logins down more than (%) on the baseline", 1, 100},
		{"baseline_weeks", "Baseline: weeks before the last one", 1, 12}, {"low_seats_pct", "Seat utilisation below (%)", 1, 100},
		{"renewal_risk_days", "Renewal due within this many days while red or yellow", 1, 365},
	}},
	{"scoring", []struct {
		name, label string
		min, max    int
	}{{"scored_ended_days", "Customers whose service ended up to this many days ago are still scored", 0, 365},
		{"score_hour", "Hour of the day the scoring runs", 0, 23}}},
}

// healthSettingsFormOf is the section for settings st; typed, when not
// nil, is a refused form's values, shown again as they were.
func healthSettingsFormOf(l lang, st keel.HealthSettings, typed url.Values) *healthSettingsForm {
	f := &healthSettingsForm{}
	values := map[string]int{}
	for _, x := range healthSettingFields(&st) {
		values[x.name] = *x.to
	}
	value := func(name string, v int) string {
		if typed != nil {
			if t, ok := typed[name]; ok {
				return t[0]
			}
		}
		return strconv.Itoa(v)
	}
	for _, c := range keel.HealthComponents {
		name := "weights." + string(c)
		f.Weights = append(f.Weights, settingField{Name: name, Label: componentLabel(l, c), Value: value(name, st.Weights[c]), Min: 0, Max: 1000})
	}
	for _, g := range healthFormGroups {
		var fields []settingField
		for _, x := range g.fields {
			fields = append(fields, settingField{Name: x.name, Label: l.T(x.label), Value: value(x.name, values[x.name]), Min: x.min, Max: x.max})
		}
		switch g.group {
		case "bands":
			f.Bands = fields
		case "components":
			f.Components = fields
		case "rules":
			f.Rules = fields
		case "scoring":
			f.Scoring = fields
		}
	}
	return f
}

// healthSettingsFromForm reads the form onto the settings saved: every
// input the form sends must be a whole number.
func healthSettingsFromForm(r *http.Request, cur keel.HealthSettings) (keel.HealthSettings, error) {
	weights := map[keel.HealthComponent]int{}
	for c, w := range cur.Weights {
		weights[c] = w
	}
	cur.Weights = weights
	read := func(name string, to *int) error {
		vs, ok := r.PostForm[name]
		if !ok {
			return nil
		}
		v := strings.TrimSpace(vs[0])
		if v == "" {
			return keel.Invalid(name, "required")
		}
		n, err := formInt(name, v)
		if err != nil {
			return err
		}
		if n < -1_000_000 || n > 1_000_000 {
			return keel.Invalid(name, "%q is not a whole number", v)
		}
		*to = int(n)
		return nil
	}
	for _, c := range keel.HealthComponents {
		w := cur.Weights[c]
		if err := read("weights."+string(c), &w); err != nil {
			return cur, err
		}
		cur.Weights[c] = w
	}
	for _, x := range healthSettingFields(&cur) {
		if err := read(x.name, x.to); err != nil {
			return cur, err
		}
	}
	return cur, nil
}

// handleHealthSettingsForm is POST /settings/health: the store checks
// every setting, naming the field, and audits the change; the next
// scoring uses them.
func (s *server) handleHealthSettingsForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		l := s.langOf(r)
		cur, err := s.healthRecords.HealthSettings(r.Context())
		if err != nil {
			return err
		}
		st, err := healthSettingsFromForm(r, cur)
		if err == nil {
			_, err = s.healthRecords.SetHealthSettings(r.Context(), employeeFrom(r.Context()), st)
		}
		if formRefused(err) {
			f := healthSettingsFormOf(l, cur, r.PostForm)
			f.Error = l.Refusal(err)
			field := keel.ErrorField(err)
			for _, group := range [][]settingField{f.Weights, f.Bands, f.Components, f.Rules, f.Scoring} {
				for i := range group {
					// "weights" (all zero) is about every weight.
					if group[i].Name == field || field == "weights" && strings.HasPrefix(group[i].Name, "weights.") {
						group[i].Error = l.Refusal(err)
					}
				}
			}
			return s.renderSettings(w, r, statusOf(keel.ErrorCode(err)), settingsData{Health: f})
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/settings#health", l.T("Health settings saved. The next scoring uses them."))
		return nil
	})
}
