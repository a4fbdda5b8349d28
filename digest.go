package keel

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The morning digest: after a day's scoring, each CSM gets what changed
// in their book — the warnings raised that day, the ones still waiting
// for them, and the customers whose health band fell since the day
// before — each with the customer's MRR at risk. Warnings and customers
// no active CSM owns (no owner, or a seller) go into one more digest,
// "unassigned" (employee 0), which admin reads: every item of a day is in
// exactly one digest.
//
// A Digest is also the JSON body the company's webhook receives, so its
// JSON names are a contract.

// Digest is one CSM's digest of a reporting day.
type Digest struct {
	// ID identifies the digest to a webhook receiver: the same in the body
	// and the X-Keel-Delivery header of every attempt, so a receiver can
	// drop a repeat.
	ID         string          `json:"id"`
	Day        string          `json:"day"`         // YYYY-MM-DD
	EmployeeID int64           `json:"employee_id"` // 0: unassigned
	Employee   string          `json:"employee"`    // the CSM's name; "" when unassigned
	Email      string          `json:"email"`
	New        []DigestWarning `json:"new_warnings"`  // raised on Day
	Open       []DigestWarning `json:"open_warnings"` // raised before and still open or acknowledged
	// MoreNew and MoreOpen count the warnings left out of the lists beyond
	// the setting DigestMaxWarnings (new ones are listed first).
	MoreNew  int          `json:"more_new_warnings"`
	MoreOpen int          `json:"more_open_warnings"`
	Fell     []DigestFall `json:"band_falls"`
	// AtRisk is the MRR of every customer in the digest (each once, those
	// left out of the lists too), per currency.
	AtRisk []DigestAmount `json:"mrr_at_risk"`
}

// DigestWarning is a warning as a digest lists it.
type DigestWarning struct {
	AlertID    int64      `json:"alert_id"`
	CustomerID int64      `json:"customer_id"`
	Customer   string     `json:"customer"`
	Rule       AlertRule  `json:"rule"`
	State      AlertState `json:"state"`
	RaisedOn   string     `json:"raised_on"`
	OwnerID    *int64     `json:"owner_id"`    // null: no owner
	MRRAtRisk  int64      `json:"mrr_at_risk"` // the customer's MRR on the digest's day (else when raised), minor units
	Currency   string     `json:"currency"`
}

// DigestFall is a customer whose band fell from the day before.
type DigestFall struct {
	CustomerID  int64  `json:"customer_id"`
	Customer    string `json:"customer"`
	From        Band   `json:"from"`
	To          Band   `json:"to"`
	ScoreBefore int    `json:"score_before"`
	Score       int    `json:"score"`
	OwnerID     *int64 `json:"owner_id"`
	MRRAtRisk   int64  `json:"mrr_at_risk"`
	Currency    string `json:"currency"`
}

// DigestAmount is an amount in one currency, minor units.
type DigestAmount struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// Empty reports whether the digest has nothing to say: such a digest is
// kept (the console shows it) but not sent.
func (d Digest) Empty() bool {
	return len(d.New) == 0 && len(d.Open) == 0 && len(d.Fell) == 0 && d.MoreNew == 0 && d.MoreOpen == 0
}

// DigestCustomer is what a digest shows of a customer: its name, and who
// owns it (the CSM, else the sales owner, as for its warnings).
type DigestCustomer struct {
	Name  string
	Owner *int64
}

// DigestScore is a customer's stored score of a day, as a digest reads it.
type DigestScore struct {
	Score    int
	Band     Band
	MRR      int64
	Currency string
}

// DigestInput is what a day's digests are made from.
type DigestInput struct {
	Day    time.Time
	CSMs   []Employee // the active employees with the csm role
	Raised []Alert    // the warnings raised on Day
	Open   []Alert    // open or acknowledged, raised before Day
	// Customers are the customers of the warnings and of the scores.
	Customers map[int64]DigestCustomer
	Today     map[int64]DigestScore // Day's scores
	Before    map[int64]DigestScore // the day before's
	// MaxWarnings bounds the warnings listed per digest (0: no bound).
	MaxWarnings int
}

// bandRank orders bands, worst first.
func bandRank(b Band) int { return slices.Index(Bands, b) }

// Fell reports whether a band of from fell to to (green to yellow or
// red, yellow to red). A band unknown on either day did not fall.
func Fell(from, to Band) bool {
	f, t := bandRank(from), bandRank(to)
	return f >= 0 && t >= 0 && t < f
}

// BuildDigests makes the day's digests: one per CSM in the order given,
// then the unassigned one — each made even when empty.
func BuildDigests(in DigestInput) []Digest {
	day := in.Day.Format(time.DateOnly)
	out := make([]Digest, 0, len(in.CSMs)+1)
	at := map[int64]int{}
	for _, e := range in.CSMs {
		at[e.ID] = len(out)
		out = append(out, Digest{Day: day, EmployeeID: e.ID, Employee: e.Name, Email: e.Email})
	}
	unassigned := len(out)
	out = append(out, Digest{Day: day})
	of := func(owner *int64) *Digest {
		if owner != nil {
			if i, ok := at[*owner]; ok {
				return &out[i]
			}
		}
		return &out[unassigned]
	}
	mrr := func(customer int64, a *Alert) (int64, string) {
		if s, ok := in.Today[customer]; ok && s.Currency != "" {
			return s.MRR, s.Currency
		}
		if a != nil {
			return a.MRRAtRisk, a.Currency
		}
		return 0, ""
	}
	warning := func(a Alert) DigestWarning {
		m, cur := mrr(a.CustomerID, &a)
		return DigestWarning{AlertID: a.ID, CustomerID: a.CustomerID, Customer: in.Customers[a.CustomerID].Name, Rule: a.Rule,
			State: a.State, RaisedOn: a.RaisedOn.Format(time.DateOnly), OwnerID: a.Owner, MRRAtRisk: m, Currency: cur}
	}
	for _, a := range in.Raised {
		d := of(a.Owner)
		d.New = append(d.New, warning(a))
	}
	for _, a := range in.Open {
		if a.State != AlertOpen && a.State != AlertAcked || !a.RaisedOn.Before(in.Day) {
			continue
		}
		d := of(a.Owner)
		d.Open = append(d.Open, warning(a))
	}
	for id, now := range in.Today {
		then, ok := in.Before[id]
		if !ok || !Fell(then.Band, now.Band) {
			continue
		}
		c, known := in.Customers[id]
		if !known {
			continue // a score of a customer Postgres does not hold
		}
		d := of(c.Owner)
		d.Fell = append(d.Fell, DigestFall{CustomerID: id, Customer: c.Name, From: then.Band, To: now.Band, ScoreBefore: then.Score,
			Score: now.Score, OwnerID: c.Owner, MRRAtRisk: now.MRR, Currency: now.Currency})
	}
	for i := range out {
		d := &out[i]
		byRisk := func(a, b DigestWarning) int {
			return cmp.Or(cmp.Compare(b.MRRAtRisk, a.MRRAtRisk), strings.Compare(a.Customer, b.Customer), cmp.Compare(a.AlertID, b.AlertID))
		}
		slices.SortFunc(d.New, byRisk)
		slices.SortFunc(d.Open, byRisk)
		slices.SortFunc(d.Fell, func(a, b DigestFall) int {
			return cmp.Or(cmp.Compare(b.MRRAtRisk, a.MRRAtRisk), strings.Compare(a.Customer, b.Customer), cmp.Compare(a.CustomerID, b.CustomerID))
		})
		d.AtRisk = atRisk(d)
		if n := in.MaxWarnings; n > 0 {
			if len(d.New) > n {
				d.MoreNew, d.New = len(d.New)-n, d.New[:n]
			}
			if room := n - len(d.New); len(d.Open) > room {
				d.MoreOpen, d.Open = len(d.Open)-room, d.Open[:room]
			}
		}
		for _, l := range []*[]DigestWarning{&d.New, &d.Open} {
			if *l == nil {
				*l = []DigestWarning{} // a JSON list, never null
			}
		}
		if d.Fell == nil {
			d.Fell = []DigestFall{}
		}
	}
	return out
}

// atRisk sums the MRR of the digest's customers, each once, per currency,
// the largest first.
func atRisk(d *Digest) []DigestAmount {
	seen := map[int64]bool{}
	sums := map[string]int64{}
	add := func(id, amount int64, cur string) {
		if seen[id] || cur == "" {
			return
		}
		seen[id] = true
		sums[cur] += amount
	}
	for _, l := range [][]DigestWarning{d.New, d.Open} {
		for _, w := range l {
			add(w.CustomerID, w.MRRAtRisk, w.Currency)
		}
	}
	for _, f := range d.Fell {
		add(f.CustomerID, f.MRRAtRisk, f.Currency)
	}
	out := []DigestAmount{}
	for cur, n := range sums {
		out = append(out, DigestAmount{Currency: cur, Amount: n})
	}
	slices.SortFunc(out, func(a, b DigestAmount) int {
		return cmp.Or(cmp.Compare(b.Amount, a.Amount), strings.Compare(a.Currency, b.Currency))
	})
	return out
}

// CanReadDigest is the rule of who reads employee's digest (0: the
// unassigned one): the employee themselves, and admin any.
func CanReadDigest(by Employee, employee int64) error {
	if err := by.Can(ActHealthRead); err != nil {
		return err
	}
	if by.Has(RoleAdmin) || (employee != 0 && employee == by.ID) {
		return nil
	}
	return Errorf(EFORBIDDEN, "only admin reads another employee's digest")
}

// DigestState is where a digest's delivery is.
type DigestState string

// The delivery states.
const (
	DigestEmpty     DigestState = "empty"     // nothing to say: not sent
	DigestUnsent    DigestState = "unsent"    // no webhook was set when it was made
	DigestPending   DigestState = "pending"   // waiting for its next attempt
	DigestDelivered DigestState = "delivered" // the webhook answered 2xx
	DigestFailed    DigestState = "failed"    // every attempt failed: given up
)

// DigestStates lists the states.
var DigestStates = []DigestState{DigestEmpty, DigestUnsent, DigestPending, DigestDelivered, DigestFailed}

// DigestRecord is a digest as kept: what was made and how its delivery
// went.
type DigestRecord struct {
	ID          int64
	Digest      Digest
	Day         time.Time
	State       DigestState
	Attempts    int
	NextAttempt *time.Time
	DeliveredAt *time.Time
	MadeAt      time.Time
}

// DigestDelivery is one attempt to deliver a digest, for the delivery log.
type DigestDelivery struct {
	ID          int64
	DigestID    int64
	DeliveryID  string    // the digest's ID, as X-Keel-Delivery
	Day         time.Time // the digest's
	EmployeeID  int64     // the digest's; 0 unassigned
	Attempt     int       // 1 for the first
	At          time.Time
	URL         string
	Status      int // the HTTP status answered; 0 when none
	Error       string
	Took        time.Duration
	NextAttempt *time.Time // nil: delivered, or given up
}

// DigestDeliveryFilter selects delivery log entries (newest first).
type DigestDeliveryFilter struct {
	DigestID int64 // 0: every digest
	Failed   bool  // only the attempts that failed
	Page
}

// DigestWebhook is the company's digest webhook as shown: its URL and
// whether a secret is set — never the secret, which only signs.
type DigestWebhook struct {
	URL       string
	SecretSet bool
	UpdatedBy int64 // 0: never set
	UpdatedAt time.Time
}

// Limits of the webhook's settings.
const (
	MaxWebhookURL    = 2000
	MinWebhookSecret = 16
	MaxWebhookSecret = 256
)

// ValidWebhookURL checks the webhook's URL: absolute http or https with a
// host, no user name or password in it (the secret signs the body), no
// fragment.
func ValidWebhookURL(field, s string) error {
	if err := ValidText(field, s); err != nil {
		return err
	}
	if strings.TrimSpace(s) != s || s == "" {
		return Invalid(field, "%q is not an http or https URL", s)
	}
	if len(s) > MaxWebhookURL {
		return Invalid(field, "at most %d characters", MaxWebhookURL)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return Invalid(field, "%q is not an http or https URL", s)
	}
	if u.User != nil {
		return Invalid(field, "must not hold a user name or password (the secret signs each delivery)")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return Invalid(field, "must not have a fragment (#…)")
	}
	return nil
}

// ValidWebhookSecret checks a new secret: MinWebhookSecret to
// MaxWebhookSecret characters of text.
func ValidWebhookSecret(field, s string) error {
	if err := ValidText(field, s); err != nil {
		return err
	}
	if n := len([]rune(s)); n < MinWebhookSecret || n > MaxWebhookSecret {
		return Invalid(field, "must have %d to %d characters", MinWebhookSecret, MaxWebhookSecret)
	}
	return nil
}

// DigestBackoff is the default wait after each failed attempt: four
// retries over about two and a half hours, then the delivery is given up.
var DigestBackoff = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}

// NextDigestAttempt is the wait before the attempt after failed attempt
// n (1 for the first), by backoff; false when n was the last: the
// delivery is given up.
func NextDigestAttempt(n int, backoff []time.Duration) (time.Duration, bool) {
	if n < 1 || n > len(backoff) {
		return 0, false
	}
	return backoff[n-1], true
}
