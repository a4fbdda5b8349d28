package keel

import (
	"testing"
	"time"
)

func TestFell(t *testing.T) {
	tests := []struct {
		from, to Band
		want     bool
	}{
		{BandGreen, BandYellow, true}, {BandGreen, BandRed, true}, {BandYellow, BandRed, true},
		{BandRed, BandYellow, false}, {BandYellow, BandGreen, false}, {BandRed, BandRed, false},
		{BandGreen, BandGreen, false}, {"", BandRed, false}, {BandGreen, "", false},
	}
	for _, tt := range tests {
		if got := Fell(tt.from, tt.to); got != tt.want {
			t.Errorf("Fell(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

// TestBuildDigests: each item goes to its owner's digest when the owner
// is a CSM and to the unassigned one otherwise; still-open lists only
// warnings raised before the day and not snoozed; falls are band falls
// of customers Postgres holds; the MRR at risk is the day's, each
// customer once; the lists are capped, new warnings first.
func TestBuildDigests(t *testing.T) {
	day := time.Date(2026, 6, 29, 0, 0, 0, 0, time.UTC)
	ana, bo, seller := int64(10), int64(11), int64(12)
	csms := []Employee{{ID: ana, Name: "Ana", Email: "ana@example.com"}, {ID: bo, Name: "Bo"}}
	alert := func(id, customer int64, owner *int64, rule AlertRule, state AlertState, raised time.Time) Alert {
		return Alert{ID: id, CustomerID: customer, Owner: owner, Rule: rule, State: state, RaisedOn: raised, MRRAtRisk: 100, Currency: "USD"}
	}
	in := DigestInput{
		Day:  day,
		CSMs: csms,
		Raised: []Alert{
			alert(1, 1, &ana, RuleNoLogin, AlertOpen, day),
			alert(2, 2, &ana, RuleLowSeats, AlertOpen, day),
			alert(3, 3, &seller, RuleNoLogin, AlertOpen, day), // a seller's: unassigned
			alert(4, 4, nil, RuleFellIntoRed, AlertOpen, day),
		},
		Open: []Alert{
			alert(5, 1, &ana, RuleLoginDrop, AlertAcked, day.AddDate(0, 0, -3)),
			alert(6, 5, &bo, RuleNoLogin, AlertOpen, day.AddDate(0, 0, -9)),
			alert(7, 5, &bo, RuleLowSeats, AlertSnoozed, day.AddDate(0, 0, -9)), // put aside
			alert(8, 2, &ana, RuleNoLogin, AlertOpen, day),                      // today's: a new one, not still open
		},
		Customers: map[int64]DigestCustomer{
			1: {"Acme", &ana}, 2: {"Beta", &ana}, 3: {"Gamma", &seller}, 4: {"Delta", nil}, 5: {"Echo", &bo}, 6: {"Fox", &bo}, 7: {"Golf", &ana},
		},
		Today: map[int64]DigestScore{
			1: {40, BandRed, 5000, "USD"}, 2: {60, BandYellow, 7000, "USD"}, 6: {70, BandYellow, 900, "EUR"},
			7: {80, BandGreen, 100, "USD"}, 99: {10, BandRed, 1, "USD"},
		},
		Before: map[int64]DigestScore{
			1: {45, BandRed, 5000, "USD"}, 2: {80, BandGreen, 7000, "USD"}, 6: {90, BandGreen, 900, "EUR"},
			7: {70, BandYellow, 100, "USD"}, 99: {90, BandGreen, 1, "USD"},
		},
	}
	ds := BuildDigests(in)
	if len(ds) != 3 || ds[0].EmployeeID != ana || ds[1].EmployeeID != bo || ds[2].EmployeeID != 0 {
		t.Fatalf("digests %+v, want Ana's, Bo's and the unassigned one", ds)
	}
	a, b, u := ds[0], ds[1], ds[2]
	if a.Day != "2026-06-29" || a.Employee != "Ana" || a.Email != "ana@example.com" {
		t.Errorf("Ana's digest is %+v", a)
	}
	// Beta (7000) before Acme (5000): the most at risk first.
	if len(a.New) != 2 || a.New[0].AlertID != 2 || a.New[1].AlertID != 1 || a.New[0].MRRAtRisk != 7000 || a.New[0].Customer != "Beta" {
		t.Errorf("Ana's new warnings %+v, want Beta's then Acme's at the day's MRR", a.New)
	}
	if len(a.Open) != 1 || a.Open[0].AlertID != 5 || a.Open[0].State != AlertAcked {
		t.Errorf("Ana's still-open warnings %+v, want the acknowledged login drop only", a.Open)
	}
	if len(a.Fell) != 1 || a.Fell[0].CustomerID != 2 || a.Fell[0].From != BandGreen || a.Fell[0].To != BandYellow || a.Fell[0].ScoreBefore != 80 || a.Fell[0].Score != 60 {
		t.Errorf("Ana's falls %+v, want Beta green 80 → yellow 60 (Acme stayed red, Golf rose)", a.Fell)
	}
	if len(a.AtRisk) != 1 || a.AtRisk[0] != (DigestAmount{"USD", 12000}) {
		t.Errorf("Ana's MRR at risk %+v, want 12000 USD (Acme and Beta once each)", a.AtRisk)
	}
	if len(b.New) != 0 || len(b.Open) != 1 || b.Open[0].AlertID != 6 || b.Open[0].MRRAtRisk != 100 {
		t.Errorf("Bo's digest %+v, want one still-open warning at its MRR when raised (no score today)", b)
	}
	if len(b.Fell) != 1 || b.Fell[0].Customer != "Fox" || len(b.AtRisk) != 2 || b.AtRisk[0] != (DigestAmount{"EUR", 900}) {
		t.Errorf("Bo's falls %+v and MRR at risk %+v, want Fox, 900 EUR then 100 USD", b.Fell, b.AtRisk)
	}
	if len(u.New) != 2 || u.New[0].AlertID != 3 && u.New[1].AlertID != 3 || len(u.Fell) != 0 || u.Employee != "" {
		t.Errorf("unassigned digest %+v, want the seller's and the ownerless warning, and no fall of an unknown customer", u)
	}
	if u.New[0].OwnerID == nil && u.New[1].OwnerID == nil {
		t.Error("the seller's warning lost its owner in the unassigned digest")
	}

	// Capped: new warnings first, then the still-open ones in the room left.
	in.MaxWarnings = 2
	capped := BuildDigests(in)[0]
	if len(capped.New) != 2 || len(capped.Open) != 0 || capped.MoreNew != 0 || capped.MoreOpen != 1 {
		t.Errorf("capped at 2: %d new (%d more), %d open (%d more); want 2, 0, 0, 1", len(capped.New), capped.MoreNew, len(capped.Open), capped.MoreOpen)
	}
	if len(capped.AtRisk) != 1 || capped.AtRisk[0].Amount != 12000 {
		t.Errorf("capped MRR at risk %+v, want every customer's", capped.AtRisk)
	}
	in.MaxWarnings = 1
	if c := BuildDigests(in)[0]; len(c.New) != 1 || c.MoreNew != 1 || c.MoreOpen != 1 || c.Empty() {
		t.Errorf("capped at 1: %+v", c)
	}

	// A day with nothing: every digest is made, empty, with JSON lists.
	empty := BuildDigests(DigestInput{Day: day, CSMs: csms})
	for _, d := range empty {
		if !d.Empty() || d.New == nil || d.Open == nil || d.Fell == nil || d.AtRisk == nil {
			t.Errorf("empty day: %+v, want an empty digest with empty lists", d)
		}
	}
}

func TestCanReadDigest(t *testing.T) {
	csm := Employee{ID: 1, Roles: []Role{RoleCSM}, Status: EmployeeActive}
	admin := Employee{ID: 2, Roles: []Role{RoleAdmin}, Status: EmployeeActive}
	finance := Employee{ID: 3, Roles: []Role{RoleFinance}, Status: EmployeeActive}
	lead := Employee{ID: 4, Roles: []Role{RoleLeadership}, Status: EmployeeActive}
	tests := []struct {
		by       Employee
		employee int64
		want     string // "" allowed, else the code
	}{
		{csm, 1, ""}, {csm, 5, EFORBIDDEN}, {csm, 0, EFORBIDDEN},
		{admin, 1, ""}, {admin, 0, ""}, {admin, 2, ""},
		{finance, 3, ""}, {finance, 1, EFORBIDDEN}, {lead, 1, EFORBIDDEN}, {lead, 4, ""},
	}
	for _, tt := range tests {
		if got := ErrorCode(CanReadDigest(tt.by, tt.employee)); got != tt.want {
			t.Errorf("%v reading %d's digest: %q, want %q", tt.by.Roles, tt.employee, got, tt.want)
		}
	}
}

func TestValidWebhookURL(t *testing.T) {
	for _, ok := range []string{"https://hooks.example.com/keel", "http://127.0.0.1:8080/in?x=1", "https://[::1]:9/x"} {
		if err := ValidWebhookURL("url", ok); err != nil {
			t.Errorf("%q: %v, want it accepted", ok, err)
		}
	}
	for _, bad := range []string{"", " https://x.example", "ftp://x.example/", "hooks.example.com/keel", "https://", "https:///path",
		"javascript:alert(1)", "https://user:pw@x.example/", "https://x.example/#frag", "mailto:a@example.com", "https://x.example/\x00",
		"https://x.example/" + string(make([]byte, MaxWebhookURL))} {
		if err := ValidWebhookURL("url", bad); ErrorField(err) != "url" {
			t.Errorf("%q: %v, want a refusal naming url", bad, err)
		}
	}
	if err := ValidWebhookSecret("secret", "short"); ErrorField(err) != "secret" {
		t.Errorf("short secret: %v", err)
	}
	if err := ValidWebhookSecret("secret", "sixteen-chars-ok"); err != nil {
		t.Errorf("16-character secret: %v", err)
	}
}

func TestNextDigestAttempt(t *testing.T) {
	for n, want := range []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour} {
		if got, ok := NextDigestAttempt(n+1, DigestBackoff); !ok || got != want {
			t.Errorf("after failed attempt %d: %s %v, want %s", n+1, got, ok, want)
		}
	}
	if _, ok := NextDigestAttempt(5, DigestBackoff); ok {
		t.Error("a sixth attempt after five failures, want the delivery given up")
	}
}
