package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The digest page (/digest): the morning digest of a day as it was made
// and sent — a CSM's own, any one of a day they pick; admin picks whose
// (any CSM's, or the unassigned one), sets the webhook it is sent to and
// reads the delivery log.

// digestWarningRow is a warning of the digest as shown.
type digestWarningRow struct {
	AlertID, CustomerID int64
	Customer, Rule      string
	State, StateLabel   string
	RaisedOn            string
	Owner               string
	MRR, Currency       string
}

// digestTable is a list of the digest's warnings, as its table shows it.
type digestTable struct {
	ID    string // the table's element id
	Admin bool   // shows each warning's owner (the unassigned digest's hold sellers')
	Rows  []digestWarningRow
}

// digestFallRow is a band fall as shown.
type digestFallRow struct {
	CustomerID                   int64
	Customer                     string
	From, To, FromLabel, ToLabel string
	ScoreBefore, Score           int
	Owner                        string
	MRR, Currency                string
}

// digestDeliveryRow is an attempt of the delivery log.
type digestDeliveryRow struct {
	At, Day, Recipient, URL string
	Attempt                 int
	Status                  string
	Error                   string
	Took                    string
	NextAttempt             string
	OK                      bool
}

// digestWebhookForm is the webhook section as shown, or as typed when it
// was refused.
type digestWebhookForm struct {
	URL       string
	SecretSet bool
	UpdatedBy string
	UpdatedAt time.Time
	Error     string
}

type digestData struct {
	Day, Prev, Next string // the day shown, and the days around it with a digest
	Employee        string // whose (the employee_id parameter: an id or unassigned)
	Recipient       string
	Recipients      []option // admin's choice of whose digest
	Days            []option
	Found           bool
	State           keel.DigestState
	StateLabel      string
	Attempts        int
	New, Open       digestTable
	MoreNew         int
	MoreOpen        int
	Fell            []digestFallRow
	AtRisk          []string
	Admin           bool
	Webhook         digestWebhookForm
	Deliveries      []digestDeliveryRow
	DeliveriesTotal int
}

// digestDaysShown is how many of the latest days the day picker offers.
const digestDaysShown = 60

// handleDigestPage is GET /digest?day=&employee_id=.
func (s *server) handleDigestPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		return s.digestPage(w, r, http.StatusOK, nil)
	})
}

// digestPage renders the page; hook is the webhook form as typed when it
// was refused.
func (s *server) digestPage(w http.ResponseWriter, r *http.Request, status int, hook *digestWebhookForm) error {
	if err := s.digestReady(); err != nil {
		return err
	}
	ctx := r.Context()
	l := s.langOf(r)
	me := employeeFrom(ctx)
	dq, err := readDigestQuery(r.URL.Query(), me)
	if err != nil {
		return err
	}
	emps, err := s.employees.Employees(ctx)
	if err != nil {
		return err
	}
	who := employeeNames(emps)
	d := digestData{Employee: "unassigned", Admin: me.Has(keel.RoleAdmin)}
	if dq.employee != 0 {
		d.Employee = strconv.FormatInt(dq.employee, 10)
	}
	d.Recipient = who.of(dq.employee)
	if dq.employee == 0 {
		d.Recipient = l.T("Unassigned (no CSM owns these)")
	}
	if d.Admin {
		d.Recipients = []option{{Value: "unassigned", Label: l.T("Unassigned (no CSM owns these)"), Selected: dq.employee == 0}}
		for _, e := range emps {
			if e.Has(keel.RoleCSM) && e.Status == keel.EmployeeActive || e.ID == dq.employee {
				d.Recipients = append(d.Recipients, option{Value: strconv.FormatInt(e.ID, 10), Label: e.Name, Selected: e.ID == dq.employee})
			}
		}
	}
	days, err := s.digests.DigestDays(ctx, dq.employee, digestDaysShown+1)
	if err != nil {
		return err
	}
	if dq.day.IsZero() && len(days) > 0 {
		dq.day = days[0]
	}
	if !dq.day.IsZero() {
		d.Day = day(dq.day)
		rec, err := s.digests.Digest(ctx, dq.day, dq.employee)
		switch {
		case keel.ErrorCode(err) == keel.ENOTFOUND:
		case err != nil:
			return err
		default:
			s.fillDigest(l, &d, rec, who)
		}
	}
	listed := false
	for i, x := range days {
		if i == digestDaysShown {
			break
		}
		v := day(x)
		listed = listed || v == d.Day
		d.Days = append(d.Days, option{Value: v, Label: v, Selected: v == d.Day})
		if x.Before(dq.day) && d.Prev == "" {
			d.Prev = v
		}
		if x.After(dq.day) {
			d.Next = v
		}
	}
	if !listed && d.Day != "" {
		d.Days = append([]option{{Value: d.Day, Label: d.Day, Selected: true}}, d.Days...)
	}
	if d.Admin {
		if err := s.fillDigestAdmin(r, l, &d, who, hook); err != nil {
			return err
		}
	}
	s.render(w, r, status, "digest", page{Title: l.T("Morning digest"), Nav: "digest", Data: d})
	return nil
}

func (s *server) fillDigest(l lang, d *digestData, rec keel.DigestRecord, who names) {
	g := rec.Digest
	d.Found, d.State, d.StateLabel, d.Attempts = true, rec.State, digestStateLabel(l, rec.State), rec.Attempts
	d.MoreNew, d.MoreOpen = g.MoreNew, g.MoreOpen
	row := func(x keel.DigestWarning) digestWarningRow {
		return digestWarningRow{AlertID: x.AlertID, CustomerID: x.CustomerID, Customer: x.Customer, Rule: ruleLabel(l, x.Rule),
			State: string(x.State), StateLabel: alertStateLabel(l, x.State), RaisedOn: x.RaisedOn, Owner: who.ofPtr(x.OwnerID),
			MRR: keel.FormatAmount(x.MRRAtRisk, x.Currency), Currency: x.Currency}
	}
	d.New, d.Open = digestTable{ID: "digest-new", Admin: d.Admin}, digestTable{ID: "digest-open", Admin: d.Admin}
	for _, x := range g.New {
		d.New.Rows = append(d.New.Rows, row(x))
	}
	for _, x := range g.Open {
		d.Open.Rows = append(d.Open.Rows, row(x))
	}
	for _, f := range g.Fell {
		d.Fell = append(d.Fell, digestFallRow{CustomerID: f.CustomerID, Customer: f.Customer, From: string(f.From), To: string(f.To),
			FromLabel: bandLabel(l, f.From), ToLabel: bandLabel(l, f.To), ScoreBefore: f.ScoreBefore, Score: f.Score,
			Owner: who.ofPtr(f.OwnerID), MRR: keel.FormatAmount(f.MRRAtRisk, f.Currency), Currency: f.Currency})
	}
	for _, a := range g.AtRisk {
		d.AtRisk = append(d.AtRisk, keel.FormatAmount(a.Amount, a.Currency)+" "+a.Currency)
	}
}

// digestLogShown is how many attempts the page's delivery log shows (the
// API pages through all of them).
const digestLogShown = 50

func (s *server) fillDigestAdmin(r *http.Request, l lang, d *digestData, who names, hook *digestWebhookForm) error {
	ctx := r.Context()
	h, err := s.digests.DigestWebhook(ctx)
	if err != nil {
		return err
	}
	d.Webhook = digestWebhookForm{URL: h.URL, SecretSet: h.SecretSet, UpdatedBy: who.of(h.UpdatedBy), UpdatedAt: h.UpdatedAt}
	if hook != nil {
		d.Webhook.URL, d.Webhook.Error = hook.URL, hook.Error
	}
	log, total, err := s.digests.DigestDeliveries(ctx, keel.DigestDeliveryFilter{Page: keel.Page{Limit: digestLogShown}})
	if err != nil {
		return err
	}
	d.DeliveriesTotal = total
	cal := s.Calendar
	at := func(t time.Time) string { return t.In(cal.Location()).Format("2006-01-02 15:04:05 MST") }
	for _, x := range log {
		row := digestDeliveryRow{At: at(x.At), Day: day(x.Day), Recipient: who.of(x.EmployeeID), URL: x.URL, Attempt: x.Attempt,
			Error: x.Error, Took: strconv.FormatInt(x.Took.Milliseconds(), 10) + " ms", OK: x.Error == ""}
		if x.EmployeeID == 0 {
			row.Recipient = l.T("Unassigned (no CSM owns these)")
		}
		if x.Status != 0 {
			row.Status = strconv.Itoa(x.Status)
		}
		switch {
		case x.NextAttempt != nil:
			row.NextAttempt = at(*x.NextAttempt)
		case !row.OK:
			row.NextAttempt = l.T("given up")
		}
		d.Deliveries = append(d.Deliveries, row)
	}
	return nil
}

// digestStateLabel names a digest's delivery state.
func digestStateLabel(l lang, st keel.DigestState) string {
	switch st {
	case keel.DigestEmpty:
		return l.T("nothing to send")
	case keel.DigestUnsent:
		return l.T("not sent: no webhook was set")
	case keel.DigestPending:
		return l.T("waiting to be sent")
	case keel.DigestDelivered:
		return l.T("delivered")
	case keel.DigestFailed:
		return l.T("failed: every attempt was refused")
	}
	return string(st)
}

// handleDigestWebhookForm is POST /digest/webhook (admin): url (empty
// stops sending digests) and secret (empty keeps the one set). A refusal
// shows the page again with what was typed, never the secret.
func (s *server) handleDigestWebhookForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.digestReady(); err != nil {
			return err
		}
		l := s.langOf(r)
		u := strings.TrimSpace(r.PostFormValue("url"))
		var secret *string
		if v := r.PostFormValue("secret"); v != "" {
			secret = &v
		}
		_, err := s.digests.SetDigestWebhook(r.Context(), employeeFrom(r.Context()), u, secret)
		if formRefused(err) {
			return s.digestPage(w, r, statusOf(keel.ErrorCode(err)), &digestWebhookForm{URL: u, Error: l.Refusal(err)})
		}
		if err != nil {
			return err
		}
		msg := l.T("Webhook saved: digests are sent to %s.", u)
		if u == "" {
			msg = l.T("Webhook removed: digests are no longer sent.")
		}
		s.redirect(w, r, "/digest#webhook", msg)
		return nil
	})
}
