package keel_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestCustomerValidate(t *testing.T) {
	valid := func() keel.Customer {
		return keel.Customer{Name: "Acme", TenantID: "t-1042", Industry: "Retail", Region: "EU", Website: "https://acme.example",
			Contacts: []keel.Contact{
				{Name: "Ann Lee", Email: "ann@acme.example", Phone: "+44 20 7946 0000", Title: "CTO"},
				{Name: "Bo Chen"}, // no email is fine
				{Name: "Cy Diaz", Email: "cy@acme.example"},
			}}
	}
	tests := []struct {
		name   string
		change func(c *keel.Customer)
		field  string // "" = valid
	}{
		{"valid", func(c *keel.Customer) {}, ""},
		{"not linked to a tenant yet", func(c *keel.Customer) { c.TenantID = "" }, ""},
		{"blank name", func(c *keel.Customer) { c.Name = "\t" }, "name"},
		{"name too long", func(c *keel.Customer) { c.Name = strings.Repeat("n", 201) }, "name"},
		{"bad tenant", func(c *keel.Customer) { c.TenantID = "t 1042" }, "tenant_id"},
		{"industry too long", func(c *keel.Customer) { c.Industry = strings.Repeat("i", 201) }, "industry"},
		{"region too long", func(c *keel.Customer) { c.Region = strings.Repeat("r", 201) }, "region"},
		{"website too long", func(c *keel.Customer) { c.Website = strings.Repeat("w", 201) }, "website"},
		{"notes of 10000", func(c *keel.Customer) { c.Notes = strings.Repeat("x", 10000) }, ""},
		{"notes too long", func(c *keel.Customer) { c.Notes = strings.Repeat("x", 10001) }, "notes"},
		{"too many contacts", func(c *keel.Customer) {
			c.Contacts = make([]keel.Contact, keel.MaxContacts+1)
			for i := range c.Contacts {
				c.Contacts[i].Name = fmt.Sprint("c", i)
			}
		}, "contacts"},
		{"contact without a name", func(c *keel.Customer) { c.Contacts[1].Name = " " }, "contacts[1].name"},
		{"contact name too long", func(c *keel.Customer) { c.Contacts[0].Name = strings.Repeat("n", 201) }, "contacts[0].name"},
		{"contact email without at", func(c *keel.Customer) { c.Contacts[2].Email = "cy.acme.example" }, "contacts[2].email"},
		{"contact email with two ats", func(c *keel.Customer) { c.Contacts[0].Email = "ann@@acme.example" }, "contacts[0].email"},
		{"contact email with a display name", func(c *keel.Customer) { c.Contacts[2].Email = "Cy <cy@acme.example>" }, "contacts[2].email"},
		{"contact email with a trailing space", func(c *keel.Customer) { c.Contacts[2].Email = "cy@acme.example " }, "contacts[2].email"},
		{"contact email with a comment", func(c *keel.Customer) { c.Contacts[2].Email = "cy@acme.example(sales)" }, "contacts[2].email"},
		{"contact email too long", func(c *keel.Customer) { c.Contacts[2].Email = strings.Repeat("c", 250) + "@a.io" }, "contacts[2].email"},
		{"contact phone too long", func(c *keel.Customer) { c.Contacts[0].Phone = strings.Repeat("1", 51) }, "contacts[0].phone"},
		{"contact title too long", func(c *keel.Customer) { c.Contacts[0].Title = strings.Repeat("t", 201) }, "contacts[0].title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			if tt.field == "" {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.EINVALID, tt.field)
		})
	}
}

func TestCustomerCheckOwners(t *testing.T) {
	salesCSM := employee(20, "both@keel.test", keel.RoleSales, keel.RoleCSM)
	gone := seller
	gone.Status = keel.EmployeeDeparted
	tests := []struct {
		name             string
		salesID, csmID   *int64
		salesEmp, csmEmp *keel.Employee
		field            string // "" = fine
	}{
		{"no owners", nil, nil, nil, nil, ""},
		{"sales and csm", ptr(seller.ID), ptr(csm.ID), &seller, &csm, ""},
		{"one employee owns both", ptr(salesCSM.ID), ptr(salesCSM.ID), &salesCSM, &salesCSM, ""},
		{"sales owner only", ptr(seller.ID), nil, &seller, nil, ""},
		{"sales owner not found", ptr(int64(99)), nil, nil, nil, "sales_owner"},
		{"sales owner is finance", ptr(finance.ID), nil, &finance, nil, "sales_owner"},
		{"sales owner departed", ptr(gone.ID), nil, &gone, nil, "sales_owner"},
		{"csm owner is sales", nil, ptr(seller.ID), nil, &seller, "csm_owner"},
		{"csm owner not found", nil, ptr(int64(99)), nil, nil, "csm_owner"},
		{"csm owner departed", nil, ptr(departed.ID), nil, &departed, "csm_owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := keel.Customer{ID: 7, Name: "Acme", SalesOwner: tt.salesID, CSMOwner: tt.csmID}
			err := c.CheckOwners(tt.salesEmp, tt.csmEmp)
			if tt.field == "" {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.EINVALID, tt.field)
		})
	}
}

func TestValidTenant(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"t-1042", true},
		{"acme:prod.eu_1", true},
		{"X", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"-acme", false},
		{".acme", false},
		{"acme corp", false},
		{"acme/prod", false},
		{"ünicode", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := keel.ValidTenant("tenant", tt.id)
			if tt.ok {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.EINVALID, "tenant")
		})
	}
}

func TestStatusOf(t *testing.T) {
	now := day("2026-06-15").Add(10 * time.Hour)
	tests := []struct {
		name string
		subs []keel.Subscription
		want keel.CustomerStatus
	}{
		{"nothing at all", nil, keel.CustomerProspect},
		{"a subscription with no grants", []keel.Subscription{sub(1, 2)}, keel.CustomerProspect},
		{"in a trial", []keel.Subscription{sub(1, 2, trialTerm(1, 3, "2026-06-01", "2026-07-01"))}, keel.CustomerTrial},
		{"trial over, never paid", []keel.Subscription{sub(1, 2, trialTerm(1, 3, "2026-01-01", "2026-01-31"))}, keel.CustomerTrial},
		{"paid now", []keel.Subscription{sub(1, 2, term(1, keel.OrderNew, 10, "2026-01-01", "2027-01-01"))}, keel.CustomerActive},
		{"paid from today", []keel.Subscription{sub(1, 2, term(1, keel.OrderNew, 10, "2026-06-15", "2027-06-15"))}, keel.CustomerActive},
		{"trial now, paid term starting later", []keel.Subscription{sub(1, 2,
			trialTerm(1, 3, "2026-06-01", "2026-07-01"),
			term(2, keel.OrderNew, 10, "2026-07-01", "2027-07-01"))}, keel.CustomerActive},
		{"paid term starting in the future", []keel.Subscription{sub(1, 2, term(1, keel.OrderNew, 10, "2026-09-01", "2027-09-01"))}, keel.CustomerActive},
		{"paid term ended yesterday", []keel.Subscription{sub(1, 2, term(1, keel.OrderNew, 10, "2025-06-15", "2026-06-15"))}, keel.CustomerChurned},
		{"paid before, trial of another edition now", []keel.Subscription{
			sub(1, 1, term(1, keel.OrderNew, 10, "2025-01-01", "2026-01-01")),
			sub(2, 2, trialTerm(2, 3, "2026-06-01", "2026-07-01"))}, keel.CustomerChurned},
		{"renewal in service", []keel.Subscription{sub(1, 2,
			term(1, keel.OrderNew, 10, "2025-01-01", "2026-01-01"),
			term(2, keel.OrderRenewal, 10, "2026-01-01", "2027-01-01"))}, keel.CustomerRenewed},
		{"renewed, then lapsed", []keel.Subscription{sub(1, 2,
			term(1, keel.OrderNew, 10, "2024-01-01", "2025-01-01"),
			term(2, keel.OrderRenewal, 10, "2025-01-01", "2026-01-01"))}, keel.CustomerChurned},
		{"renewal voided", []keel.Subscription{sub(1, 2,
			term(1, keel.OrderNew, 10, "2025-07-01", "2026-07-01"),
			void(term(2, keel.OrderRenewal, 10, "2026-07-01", "2027-07-01")))}, keel.CustomerActive},
		{"only order voided", []keel.Subscription{sub(1, 2, void(term(1, keel.OrderNew, 10, "2026-01-01", "2027-01-01")))}, keel.CustomerProspect},
		{"paid order voided, trial stays", []keel.Subscription{sub(1, 2,
			trialTerm(1, 3, "2025-12-01", "2025-12-31"),
			void(term(2, keel.OrderNew, 10, "2026-01-01", "2027-01-01")))}, keel.CustomerTrial},
		{"upgraded: old edition cut, new one in service", []keel.Subscription{
			sub(1, 1, term(1, keel.OrderNew, 10, "2026-01-01", "2027-01-01"), cut(2, "2026-04-01")),
			sub(2, 2, term(2, keel.OrderUpgrade, 10, "2026-04-01", "2027-04-01"))}, keel.CustomerActive},
		{"upgrade cut today, new edition starts later", []keel.Subscription{
			sub(1, 1, term(1, keel.OrderNew, 10, "2026-01-01", "2027-01-01"), cut(2, "2026-06-15")),
			sub(2, 2, term(2, keel.OrderUpgrade, 10, "2026-07-01", "2027-07-01"))}, keel.CustomerActive},
		{"upgraded, and the new edition lapsed", []keel.Subscription{
			sub(1, 1, term(1, keel.OrderNew, 10, "2025-01-01", "2026-01-01"), cut(2, "2025-03-01")),
			sub(2, 2, term(2, keel.OrderUpgrade, 10, "2025-03-01", "2026-03-01"))}, keel.CustomerChurned},
		{"renewed, then upgraded", []keel.Subscription{
			sub(1, 1, term(1, keel.OrderNew, 10, "2025-01-01", "2026-01-01"),
				term(2, keel.OrderRenewal, 10, "2026-01-01", "2027-01-01"), cut(3, "2026-04-01")),
			sub(2, 2, term(3, keel.OrderUpgrade, 10, "2026-04-01", "2027-04-01"))}, keel.CustomerRenewed},
		{"renewal approved ahead of its term", []keel.Subscription{sub(1, 2,
			term(1, keel.OrderNew, 10, "2025-07-01", "2026-07-01"),
			term(2, keel.OrderRenewal, 10, "2026-07-01", "2027-07-01"))}, keel.CustomerRenewed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keel.StatusOf(tt.subs, now); got != tt.want {
				t.Errorf("StatusOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFirstPurchase(t *testing.T) {
	tests := []struct {
		name string
		subs []keel.Subscription
		want string // "" = none
	}{
		{"nothing", nil, ""},
		{"trial only", []keel.Subscription{sub(1, 2, trialTerm(1, 3, "2026-01-01", "2026-01-31"))}, ""},
		{"voided purchase", []keel.Subscription{sub(1, 2, void(term(1, keel.OrderNew, 1, "2026-02-01", "2027-02-01")))}, ""},
		{"after a trial", []keel.Subscription{sub(1, 2,
			trialTerm(1, 3, "2026-01-01", "2026-01-31"),
			term(2, keel.OrderNew, 10, "2026-02-01", "2027-02-01"))}, "2026-02-01"},
		{"earliest over products", []keel.Subscription{
			sub(1, 2, term(3, keel.OrderNew, 10, "2026-02-01", "2027-02-01")),
			sub(2, 10, term(2, keel.OrderNew, 5, "2025-11-20", "2026-11-20"))}, "2025-11-20"},
		{"a voided earlier purchase does not count", []keel.Subscription{sub(1, 2,
			void(term(1, keel.OrderNew, 10, "2025-01-01", "2026-01-01")),
			term(2, keel.OrderNew, 10, "2025-03-01", "2026-03-01"))}, "2025-03-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keel.FirstPurchase(tt.subs)
			if tt.want == "" {
				if got != nil {
					t.Errorf("FirstPurchase = %v, want nil", *got)
				}
				return
			}
			if got == nil || !got.Equal(day(tt.want)) {
				t.Errorf("FirstPurchase = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestTotalsOf(t *testing.T) {
	line := func(amount int64, months int) keel.OrderLine {
		return keel.OrderLine{UnitAmount: amount, Period: keel.PeriodMonth, Quantity: 1, Months: months}
	}
	order := func(kind keel.OrderKind, st keel.OrderStatus, currency string, paid *int64, lines ...keel.OrderLine) keel.Order {
		o := keel.Order{Kind: kind, Status: st, Currency: currency, Lines: lines}
		if paid != nil {
			o.Payment = &keel.Payment{Amount: *paid, PaidAt: day("2026-01-05"), Reference: "INV-1"}
		}
		return o
	}
	orders := []keel.Order{
		order(keel.OrderNew, keel.OrderApproved, "USD", ptr(int64(120000)), line(10000, 12)), // paid in full
		order(keel.OrderAddon, keel.OrderApproved, "USD", ptr(int64(2000)), line(1000, 6)),   // 4,000 outstanding
		order(keel.OrderRenewal, keel.OrderVoid, "USD", ptr(int64(120000)), line(10000, 12)), // void
		order(keel.OrderRenewal, keel.OrderRejected, "USD", nil, line(10000, 12)),            // rejected
		order(keel.OrderRenewal, keel.OrderPending, "USD", nil, line(10000, 12)),             // pending
		order(keel.OrderRenewal, keel.OrderDraft, "USD", nil, line(10000, 12)),               // draft
		order(keel.OrderTrial, keel.OrderApproved, "GBP", nil, line(0, 1)),                   // a trial: no GBP totals at all
		order(keel.OrderNew, keel.OrderApproved, "EUR", nil, line(500, 12), line(100, 12)),   // nothing paid yet
		order(keel.OrderAddon, keel.OrderApproved, "CNY", ptr(int64(0)), line(3000, 1)),      // paid 0
		order(keel.OrderAddon, keel.OrderApproved, "CNY", ptr(int64(3000)), line(3000, 1)),   // paid
		order(keel.OrderNew, keel.OrderVoid, "JPY", ptr(int64(500)), line(500, 1)),           // only void in JPY
	}
	want := []keel.PaymentTotals{
		{Currency: "CNY", Ordered: 6000, Paid: 3000, Outstanding: 3000},
		{Currency: "EUR", Ordered: 7200, Paid: 0, Outstanding: 7200},
		{Currency: "USD", Ordered: 126000, Paid: 122000, Outstanding: 4000},
	}
	if got := keel.TotalsOf(orders); !reflect.DeepEqual(got, want) {
		t.Errorf("TotalsOf =\n%+v\nwant\n%+v", got, want)
	}
	if got := keel.TotalsOf(nil); got == nil || len(got) != 0 {
		t.Errorf("TotalsOf(nil) = %#v, want an empty, non-nil list", got)
	}
}

func TestFollowUpValidate(t *testing.T) {
	now := day("2026-06-15").Add(12 * time.Hour)
	file := func(name string, size int) keel.Attachment {
		return keel.Attachment{Name: name, ContentType: "application/pdf", Size: int64(size), Data: bytes.Repeat([]byte{'x'}, size)}
	}
	valid := func() keel.FollowUp {
		return keel.FollowUp{CustomerID: 7, At: now.Add(-2 * time.Hour), AuthorID: csm.ID, Kind: keel.FollowUpCall,
			Text: "Renewal call: wants 5 more seats.", Attachments: []keel.Attachment{file("quote.pdf", 1024)}}
	}
	tests := []struct {
		name   string
		change func(f *keel.FollowUp)
		code   string // "" = valid
		field  string
	}{
		{"valid", func(f *keel.FollowUp) {}, "", ""},
		{"visit", func(f *keel.FollowUp) { f.Kind = keel.FollowUpVisit }, "", ""},
		{"email", func(f *keel.FollowUp) { f.Kind = keel.FollowUpEmail }, "", ""},
		{"meeting", func(f *keel.FollowUp) { f.Kind = keel.FollowUpMeeting }, "", ""},
		{"note", func(f *keel.FollowUp) { f.Kind = keel.FollowUpNote }, "", ""},
		{"unknown kind", func(f *keel.FollowUp) { f.Kind = "fax" }, keel.EINVALID, "kind"},
		{"no kind", func(f *keel.FollowUp) { f.Kind = "" }, keel.EINVALID, "kind"},
		{"no time", func(f *keel.FollowUp) { f.At = time.Time{} }, keel.EINVALID, "at"},
		{"before 2000", func(f *keel.FollowUp) { f.At = day("1999-12-31") }, keel.EINVALID, "at"},
		{"less than a day ahead (time zones)", func(f *keel.FollowUp) { f.At = now.Add(20 * time.Hour) }, "", ""},
		{"two days ahead", func(f *keel.FollowUp) { f.At = now.Add(48 * time.Hour) }, keel.EINVALID, "at"},
		{"blank text", func(f *keel.FollowUp) { f.Text = " \n " }, keel.EINVALID, "text"},
		{"text at the limit", func(f *keel.FollowUp) { f.Text = strings.Repeat("t", keel.MaxFollowUpTextSize) }, "", ""},
		{"text too long", func(f *keel.FollowUp) { f.Text = strings.Repeat("t", keel.MaxFollowUpTextSize+1) }, keel.EINVALID, "text"},
		{"no attachments", func(f *keel.FollowUp) { f.Attachments = nil }, "", ""},
		{"five attachments", func(f *keel.FollowUp) {
			f.Attachments = nil
			for i := range keel.MaxAttachments {
				f.Attachments = append(f.Attachments, file(fmt.Sprint(i, ".txt"), 10))
			}
		}, "", ""},
		{"six attachments", func(f *keel.FollowUp) {
			f.Attachments = nil
			for i := range keel.MaxAttachments + 1 {
				f.Attachments = append(f.Attachments, file(fmt.Sprint(i, ".txt"), 10))
			}
		}, keel.EINVALID, "attachments"},
		{"attachment at the size limit", func(f *keel.FollowUp) { f.Attachments[0] = file("big.bin", keel.MaxAttachmentBytes) }, "", ""},
		{"attachment too large", func(f *keel.FollowUp) {
			f.Attachments = append(f.Attachments, file("huge.bin", keel.MaxAttachmentBytes+1))
		}, keel.ETOOLARGE, "attachments[1]"},
		{"empty attachment", func(f *keel.FollowUp) { f.Attachments[0].Data = nil }, keel.EINVALID, "attachments[0]"},
		{"attachment without a name", func(f *keel.FollowUp) { f.Attachments[0].Name = " " }, keel.EINVALID, "attachments[0].name"},
		{"attachment name with a slash", func(f *keel.FollowUp) { f.Attachments[0].Name = "../etc/passwd" }, keel.EINVALID, "attachments[0].name"},
		{"attachment name with a backslash", func(f *keel.FollowUp) { f.Attachments[0].Name = `C:\quote.pdf` }, keel.EINVALID, "attachments[0].name"},
		{"attachment name with a NUL", func(f *keel.FollowUp) { f.Attachments[0].Name = "a\x00.pdf" }, keel.EINVALID, "attachments[0].name"},
		{"attachment name too long", func(f *keel.FollowUp) { f.Attachments[0].Name = strings.Repeat("n", 256) }, keel.EINVALID, "attachments[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid()
			tt.change(&f)
			err := f.Validate(now)
			if tt.code == "" {
				wantOK(t, err)
				return
			}
			wantError(t, err, tt.code, tt.field)
		})
	}
}
