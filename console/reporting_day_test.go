package console_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// TestReportingDay: with Asia/Shanghai as the reporting timezone, at 23:30
// and at 00:30 there (when UTC is still on the day before), the domain, the
// store, the API and the pages all call the same day today: the price in
// effect, the day a payment may be dated up to, the day service starts, a
// subscription's days, the day activity runs to and the pages' defaults.
func TestReportingDay(t *testing.T) {
	cal, err := keel.LoadCalendar("tz", "Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	sh := cal.Location()
	y, m, d := time.Now().In(sh).Date() // a day whose sessions are still valid
	late := time.Date(y, m, d, 23, 30, 0, 0, sh)
	for _, at := range []time.Time{late, late.Add(time.Hour)} {
		t.Run(at.Format("15:04"), func(t *testing.T) {
			day := at.In(sh).Format(time.DateOnly)
			tomorrow := at.In(sh).AddDate(0, 0, 1).Format(time.DateOnly)
			if at.Hour() == 0 && at.UTC().Format(time.DateOnly) == day {
				t.Fatalf("at %s UTC is on the reporting day already; the test would not tell the days apart", at.UTC())
			}
			e := newAPIAt(t, func() time.Time { return at }, cal)
			cid := e.customer()
			// A price from the reporting day on: in effect today, at 00:30 too.
			pid := e.product(keel.KindEdition, 1000, "USD")
			e.must(201, "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", pid),
				map[string]any{"amount": 2000, "currency": "USD", "period": "month", "effective_from": day})
			oid := e.order(cid, keel.OrderNew, pid, 1, 12)
			o := e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", oid), nil)
			if got := o["lines"].([]any)[0].(map[string]any)["unit_amount"]; got != 2000.0 {
				t.Errorf("unit amount %v, want 2000: the price from %s is today's", got, day)
			}

			finance := e.signIn("finance")
			wantPage(t, "approve form", finance.get(fmt.Sprintf("/orders/%d", oid)), http.StatusOK,
				fmt.Sprintf(`name="paid_at" value="%s"`, day))
			wantPage(t, "product page", e.signIn("admin").get(fmt.Sprintf("/products/%d", pid)), http.StatusOK,
				fmt.Sprintf(`name="effective_from" value="%s"`, tomorrow)) // after the latest version, which starts today

			// A payment of tomorrow is refused; one of today is not.
			r := e.call("finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", oid), map[string]any{"paid_amount": 24000, "paid_at": tomorrow, "payment_ref": "X"})
			if f := r.apiError(t).Field; r.status != http.StatusBadRequest || f == nil || *f != "paid_at" {
				t.Errorf("paid tomorrow: %d %s, want 400 naming paid_at", r.status, r.body)
			}
			e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", oid), map[string]any{"paid_amount": 24000, "paid_at": day, "payment_ref": "X"})

			// Service starts today; the subscription is in service today.
			g := e.must(200, "admin", "GET", fmt.Sprintf("/api/v1/orders/%d", oid), nil)["grants"].([]any)[0].(map[string]any)
			if g["start"] != day {
				t.Errorf("grant starts %v, want %s", g["start"], day)
			}
			sub := e.must(200, "admin", "GET", fmt.Sprintf("/api/v1/customers/%d", cid), nil)["subscriptions"].([]any)[0].(map[string]any)
			if sub["start"] != day || sub["status"] != "active" {
				t.Errorf("subscription %v, want active from %s", sub, day)
			}
			wantPage(t, "customer page", finance.get(fmt.Sprintf("/customers/%d", cid)), http.StatusOK,
				fmt.Sprintf("<td>%s</td>", day), "In service", "Paying")

			// Activity runs to today.
			a := e.must(200, "leadership", "GET", "/api/v1/metrics/activity?tenant=t-"+uniq(), nil)["days"].([]any)
			if last := a[len(a)-1].(map[string]any)["day"]; last != day {
				t.Errorf("activity runs to %v, want %s", last, day)
			}
		})
	}
}
