package console

import (
	"net/http"

	"github.com/keelhq/keel"
)

// homeCard is one thing waiting for the employee on the home page.
type homeCard struct {
	Label string
	Count int
	Link  string
}

// homeWarning is one of my open warnings on the home page.
type homeWarning struct {
	ID, CustomerID      int64
	Customer            string
	RuleLabel, Evidence string
	State               keel.AlertState
	StateLabel          string
	MRR, Currency       string
	Age                 int
}

// homeWarnings is how many of my open warnings the home page lists.
const homeWarnings = 10

type homeData struct {
	Warnings      []homeWarning
	WarningsTotal int
	ShowWarnings  bool // the employee owns warnings: CSMs, and sellers of customers without one
	Cards         []homeCard
}

// handleHome is the signed-in home: what waits for this employee, by role;
// for a CSM, their open churn warnings first.
func (s *server) handleHome() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		me := employeeFrom(ctx)
		if dashboardIsHome(me) && s.revenueReady() == nil {
			return s.dashboard(w, r)
		}
		l := s.langOf(r)
		one := keel.Page{Limit: 1}
		var d homeData
		if (me.Has(keel.RoleCSM) || me.Has(keel.RoleSales)) && me.Can(keel.ActHealthRead) == nil && s.healthReady() == nil {
			as, n, err := s.healthRecords.Alerts(ctx, keel.AlertFilter{Owner: me.ID, States: workStates, Page: keel.Page{Limit: homeWarnings}})
			if err != nil {
				return err
			}
			ac, err := s.alertContextOf(ctx, as)
			if err != nil {
				return err
			}
			d.ShowWarnings, d.WarningsTotal = me.Has(keel.RoleCSM) || n > 0, n
			for _, a := range as {
				j := ac.json(a)
				d.Warnings = append(d.Warnings, homeWarning{ID: a.ID, CustomerID: a.CustomerID, Customer: j.Customer, RuleLabel: ruleLabel(l, a.Rule),
					Evidence: evidenceText(l, a), State: a.State, StateLabel: alertStateLabel(l, a.State), MRR: keel.FormatAmount(a.MRRAtRisk, a.Currency),
					Currency: a.Currency, Age: j.AgeDays})
			}
		}
		var cards []homeCard
		count := func(label, link string, n int, err error) error {
			if err != nil {
				return err
			}
			cards = append(cards, homeCard{Label: l.T(label), Count: n, Link: link})
			return nil
		}
		if me.Has(keel.RoleSales) || me.Has(keel.RoleCSM) {
			_, n, err := s.customers.Customers(ctx, keel.CustomerFilter{Owner: me.ID, Page: one})
			if err := count("My customers", "/customers?owner="+itoa(int(me.ID)), n, err); err != nil {
				return err
			}
			_, n, err = s.orders.Orders(ctx, keel.OrderFilter{CreatedBy: me.ID, Status: keel.OrderDraft, Page: one})
			if err := count("My draft orders", "/orders?status=draft&mine=1", n, err); err != nil {
				return err
			}
			_, n, err = s.orders.Orders(ctx, keel.OrderFilter{CreatedBy: me.ID, Status: keel.OrderPending, Page: one})
			if err := count("My orders awaiting approval", "/orders?status=pending_approval&mine=1", n, err); err != nil {
				return err
			}
		}
		if me.Can(keel.ActOrderDecide) == nil {
			_, n, err := s.orders.Orders(ctx, keel.OrderFilter{Status: keel.OrderPending, Page: one})
			if err := count("Orders awaiting approval", "/approvals", n, err); err != nil {
				return err
			}
		}
		d.Cards = cards
		s.render(w, r, http.StatusOK, "home", page{Title: l.T("Home"), Nav: "home", Data: d})
		return nil
	})
}

// dashboardIsHome: leadership reads the revenue dashboard first; whoever
// also sells, looks after customers or approves orders has work waiting
// on the home page instead (and the dashboard in the navigation).
func dashboardIsHome(me keel.Employee) bool {
	return me.Has(keel.RoleLeadership) && !me.Has(keel.RoleSales) && !me.Has(keel.RoleCSM) && !me.Has(keel.RoleFinance)
}
