package console

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// customerRow is one line of the customer list.
type customerRow struct {
	ID            int64
	Name, Tenant  string
	Status        keel.CustomerStatus
	StatusLabel   string
	Sales, CSM    string
	HasTrend      bool // the customer has a tenant and trends were read
	Trend         keel.Trend
	TrendLabel    string
	Logins        int64 // in the last trend window
	FirstPurchase *time.Time
}

type customerListData struct {
	Rows                     []customerRow
	Q                        string
	Statuses, Owners, Trends []option
	Pager                    pager
	TrendDays                int
	TrendsUnavailable        bool
	Filtered                 bool
}

// handleCustomersPage lists customers: searched by name or tenant id,
// filtered by status, owner and login trend, 50 a page.
func (s *server) handleCustomersPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		l := s.langOf(r)
		q := r.URL.Query()
		var f keel.CustomerFilter
		var err error
		f.Query = strings.TrimSpace(q.Get("q"))
		if f.Status, err = queryEnum(q, "status", keel.CustomerStatuses); err != nil {
			return err
		}
		if f.Owner, err = queryID(q, "owner"); err != nil {
			return err
		}
		trend, err := queryEnum(q, "trend", keel.Trends)
		if err != nil {
			return err
		}
		if f.Page, err = pageOf(r); err != nil {
			return err
		}
		today := s.today()
		trends := map[string]warehouse.TenantTrend{}
		var ts []warehouse.TenantTrend
		var trendErr error
		if trend != "" {
			// Filtering by trend needs every tenant's trend …
			if ts, err = s.Warehouse.TenantTrends(ctx, today, s.Settings); err != nil {
				return err
			}
			for _, t := range ts {
				trends[t.Tenant] = t
			}
			if f.Tenants, err = s.tenantsTrending(r, trend, ts, trends); err != nil {
				return err
			}
		}
		rows, total, err := s.Store.Customers(ctx, f)
		if err != nil {
			return err
		}
		if trend == "" {
			// … showing it needs only the page's.
			tenants := []string{}
			for _, v := range rows {
				if v.TenantID != "" {
					tenants = append(tenants, v.TenantID)
				}
			}
			if ts, trendErr = s.Warehouse.TenantTrendsOf(ctx, today, s.Settings, tenants); trendErr != nil {
				// The list is records from Postgres; without ClickHouse it
				// still shows them, only without the trend column.
				s.Log.Error("console", "path", r.URL.Path, "err", fmt.Errorf("customer list trends: %w", trendErr))
			}
			for _, t := range ts {
				trends[t.Tenant] = t
			}
		}
		emps, err := s.Store.Employees(ctx)
		if err != nil {
			return err
		}
		names := employeeNames(emps)
		d := customerListData{Q: f.Query, Pager: pagerOf(r, f.Page, total), TrendDays: s.trendDays(),
			TrendsUnavailable: trendErr != nil, Filtered: f.Query != "" || f.Status != "" || f.Owner != 0 || trend != ""}
		for _, v := range rows {
			row := customerRow{ID: v.ID, Name: v.Name, Tenant: v.TenantID, Status: v.Status, StatusLabel: customerStatusLabel(l, v.Status),
				Sales: names.ofPtr(v.SalesOwner), CSM: names.ofPtr(v.CSMOwner), FirstPurchase: v.FirstPurchase}
			if v.TenantID != "" && trendErr == nil {
				t, ok := trends[v.TenantID]
				if !ok { // no event in the lookback: no logins in either window
					t.Trend = keel.TrendFlat
				}
				row.HasTrend, row.Trend, row.TrendLabel, row.Logins = true, t.Trend, trendLabel(l, t.Trend), t.Last
			}
			d.Rows = append(d.Rows, row)
		}
		d.Statuses = []option{{Value: "", Label: l.T("Any status")}}
		for _, st := range keel.CustomerStatuses {
			d.Statuses = append(d.Statuses, option{Value: string(st), Label: customerStatusLabel(l, st), Selected: st == f.Status})
		}
		d.Owners = append([]option{{Value: "", Label: l.T("Any owner")}}, ownerOptions(emps, f.Owner)...)
		d.Trends = []option{{Value: "", Label: l.T("Any login trend")}}
		for _, t := range keel.Trends {
			d.Trends = append(d.Trends, option{Value: string(t), Label: trendLabel(l, t), Selected: t == trend})
		}
		s.render(w, r, http.StatusOK, "customers", page{Title: l.T("Customers"), Nav: "customers", Data: d})
		return nil
	})
}

// tenantsTrending lists the tenants whose login trend is trend. A tenant
// with no event in the trends' lookback had no logins in either window,
// which the trend rule calls flat: those are the linked tenants missing
// from the trends.
func (s *server) tenantsTrending(r *http.Request, trend keel.Trend, ts []warehouse.TenantTrend, byTenant map[string]warehouse.TenantTrend) ([]string, error) {
	out := []string{}
	for _, t := range ts {
		if t.Trend == trend {
			out = append(out, t.Tenant)
		}
	}
	if trend != keel.TrendFlat || s.Names == nil {
		return out, nil
	}
	linked, err := s.Names.TenantNames(r.Context())
	if err != nil {
		return nil, err
	}
	for tenant := range linked {
		if _, ok := byTenant[tenant]; !ok {
			out = append(out, tenant)
		}
	}
	return out, nil
}

// customerForm is the create and edit form, as typed.
type customerForm struct {
	ID, Version                          int64
	Name, TenantID, SalesOwner, CSMOwner string
	Industry, Region, Website, Notes     string
	Contacts                             []keel.Contact
	Error                                string
	Conflict                             bool
	Unsaved                              []custUnsavedField // on a conflict: what the employee typed that differs
	SalesOwners, CSMOwners               []option
}

// custUnsavedField is a value typed into a form that a conflict kept from
// being saved.
type custUnsavedField struct{ Label, Value string }

// custExtraContactRows is how many empty contact rows a form offers.
const custExtraContactRows = 2

func formOfCustomer(c keel.Customer) customerForm {
	f := customerForm{ID: c.ID, Version: c.Version, Name: c.Name, TenantID: c.TenantID, Industry: c.Industry,
		Region: c.Region, Website: c.Website, Notes: c.Notes, Contacts: append([]keel.Contact(nil), c.Contacts...)}
	if c.SalesOwner != nil {
		f.SalesOwner = strconv.FormatInt(*c.SalesOwner, 10)
	}
	if c.CSMOwner != nil {
		f.CSMOwner = strconv.FormatInt(*c.CSMOwner, 10)
	}
	return f
}

// customerFormOf reads the posted form. Contact rows left blank are
// dropped; the rest are validated by the customer's own rules.
func customerFormOf(r *http.Request) customerForm {
	v := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	f := customerForm{Name: v("name"), TenantID: v("tenant_id"), SalesOwner: v("sales_owner"), CSMOwner: v("csm_owner"),
		Industry: v("industry"), Region: v("region"), Website: v("website"), Notes: strings.TrimSpace(r.PostFormValue("notes"))}
	f.Version, _ = strconv.ParseInt(v("version"), 10, 64)
	col := func(name string, i int) string {
		vs := r.PostForm[name]
		if i < len(vs) {
			return strings.TrimSpace(vs[i])
		}
		return ""
	}
	n := max(len(r.PostForm["contact_name"]), len(r.PostForm["contact_email"]), len(r.PostForm["contact_phone"]), len(r.PostForm["contact_title"]))
	for i := 0; i < n && i <= keel.MaxContacts; i++ {
		c := keel.Contact{Name: col("contact_name", i), Email: col("contact_email", i), Phone: col("contact_phone", i), Title: col("contact_title", i)}
		if c != (keel.Contact{}) {
			f.Contacts = append(f.Contacts, c)
		}
	}
	return f
}

// customer turns the form into a customer, naming the field that is not
// an owner id.
func (f customerForm) customer() (keel.Customer, error) {
	c := keel.Customer{ID: f.ID, Version: f.Version, Name: f.Name, TenantID: f.TenantID, Industry: f.Industry,
		Region: f.Region, Website: f.Website, Notes: f.Notes, Contacts: f.Contacts}
	for _, o := range []struct {
		field, v string
		to       **int64
	}{{"sales_owner", f.SalesOwner, &c.SalesOwner}, {"csm_owner", f.CSMOwner, &c.CSMOwner}} {
		if o.v == "" {
			continue
		}
		id, err := strconv.ParseInt(o.v, 10, 64)
		if err != nil || id < 1 {
			return c, keel.Invalid(o.field, "%q is not an employee", o.v)
		}
		*o.to = &id
	}
	return c, nil
}

// withOwners fills the owner selects: active employees of the role, and
// the current owner even when no longer one of them.
func (f *customerForm) withOwners(l lang, emps []keel.Employee) {
	sel := func(role keel.Role, current string) []option {
		out := []option{{Value: "", Label: l.T("No owner")}}
		for _, e := range emps {
			id := strconv.FormatInt(e.ID, 10)
			if e.Status == keel.EmployeeActive && e.Has(role) || id == current {
				out = append(out, option{Value: id, Label: e.Name, Selected: id == current})
			}
		}
		return out
	}
	f.SalesOwners = sel(keel.RoleSales, f.SalesOwner)
	f.CSMOwners = sel(keel.RoleCSM, f.CSMOwner)
	for i := 0; i < custExtraContactRows; i++ {
		f.Contacts = append(f.Contacts, keel.Contact{})
	}
}

func (s *server) renderCustomerForm(w http.ResponseWriter, r *http.Request, status int, f customerForm) error {
	l := s.langOf(r)
	emps, err := s.Store.Employees(r.Context())
	if err != nil {
		return err
	}
	f.withOwners(l, emps)
	title := l.T("New customer")
	if f.ID != 0 {
		title = l.T("Edit %s", f.Name)
	}
	s.render(w, r, status, "customer_form", page{Title: title, Nav: "customers", Data: f})
	return nil
}

func (s *server) handleCustomerNewPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		return s.renderCustomerForm(w, r, http.StatusOK, customerForm{})
	})
}

func (s *server) handleCustomerCreatePage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		f := customerFormOf(r)
		f.ID, f.Version = 0, 0
		c, err := f.customer()
		var v keel.CustomerView
		if err == nil {
			v, err = s.Store.CreateCustomer(r.Context(), employeeFrom(r.Context()), c)
		}
		if err != nil {
			if !formRefused(err) {
				return err
			}
			status := statusOf(keel.ErrorCode(err))
			f.Error = l.Refusal(err)
			return s.renderCustomerForm(w, r, status, f)
		}
		s.redirect(w, r, "/customers/"+strconv.FormatInt(v.ID, 10), l.T("Customer saved."))
		return nil
	})
}

func (s *server) handleCustomerEditPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		v, err := s.Store.Customer(r.Context(), id)
		if err != nil {
			return err
		}
		return s.renderCustomerForm(w, r, http.StatusOK, formOfCustomer(v.Customer))
	})
}

// handleCustomerSavePage stores an edit made on the customer as it was
// when the form was opened (its Version): when someone else saved in
// between, nothing is overwritten; the form comes back with the current
// values and what this employee typed, to do again.
func (s *server) handleCustomerSavePage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		f := customerFormOf(r)
		f.ID = id
		if f.Version < 1 {
			f.Error = l.T("version: missing; reload the edit page and make the change again.")
			return s.renderCustomerForm(w, r, http.StatusBadRequest, f)
		}
		c, err := f.customer()
		if err == nil {
			_, err = s.Store.UpdateCustomer(r.Context(), employeeFrom(r.Context()), c)
		}
		if errors.Is(err, keel.ErrChanged) {
			cur, err := s.Store.Customer(r.Context(), id)
			if err != nil {
				return err
			}
			emps, err := s.Store.Employees(r.Context())
			if err != nil {
				return err
			}
			nf := formOfCustomer(cur.Customer)
			nf.Conflict = true
			nf.Error = l.T("Someone else saved this customer after you opened the form. It now shows their values; your changes, listed below, were not saved.")
			nf.Unsaved = custUnsavedChanges(l, f, nf, employeeNames(emps))
			return s.renderCustomerForm(w, r, http.StatusConflict, nf)
		}
		if err != nil {
			if !formRefused(err) {
				return err
			}
			status := statusOf(keel.ErrorCode(err))
			f.Error = l.Refusal(err)
			return s.renderCustomerForm(w, r, status, f)
		}
		s.redirect(w, r, "/customers/"+strconv.FormatInt(id, 10), l.T("Customer saved."))
		return nil
	})
}

// custUnsavedChanges lists the fields typed differently from the current
// record.
func custUnsavedChanges(l lang, typed, cur customerForm, names names) []custUnsavedField {
	owner := func(v string) string {
		if v == "" {
			return l.T("No owner")
		}
		id, _ := strconv.ParseInt(v, 10, 64)
		return names.of(id)
	}
	var out []custUnsavedField
	add := func(label, a, b string) {
		if a != b {
			out = append(out, custUnsavedField{Label: label, Value: a})
		}
	}
	add(l.T("Name"), typed.Name, cur.Name)
	add(l.T("Tenant id"), typed.TenantID, cur.TenantID)
	add(l.T("Sales owner"), owner(typed.SalesOwner), owner(cur.SalesOwner))
	add(l.T("CSM owner"), owner(typed.CSMOwner), owner(cur.CSMOwner))
	add(l.T("Industry"), typed.Industry, cur.Industry)
	add(l.T("Region"), typed.Region, cur.Region)
	add(l.T("Website"), typed.Website, cur.Website)
	add(l.T("Notes"), typed.Notes, cur.Notes)
	contacts := func(cs []keel.Contact) string {
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = strings.TrimSpace(strings.Join([]string{c.Name, c.Email, c.Phone, c.Title}, " "))
		}
		return strings.Join(parts, "; ")
	}
	add(l.T("Contacts"), contacts(typed.Contacts), contacts(cur.Contacts))
	return out
}

// followUpForm is the add-a-follow-up form, as typed.
type followUpForm struct {
	Kind, At, Text string
	Zone           string // the timezone At is typed in
	Error          string
	Kinds          []option
}

// custLocalMinute is the format of an <input type="datetime-local">.
const custLocalMinute = "2006-01-02T15:04"

// followUpOfForm reads the posted follow-up: at is a datetime-local in the
// reporting timezone (or a day, or an RFC 3339 time, as the API takes);
// the files of "attachment" become its attachments.
func followUpOfForm(r *http.Request, customerID int64, now time.Time, loc *time.Location) (keel.FollowUp, followUpForm, error) {
	ff := followUpForm{Kind: r.PostFormValue("kind"), At: strings.TrimSpace(r.PostFormValue("at")), Text: r.PostFormValue("text")}
	f := keel.FollowUp{CustomerID: customerID, Kind: keel.FollowUpKind(ff.Kind), Text: ff.Text, At: now.UTC()}
	if ff.At != "" {
		if t, err := time.ParseInLocation(custLocalMinute, ff.At, loc); err == nil {
			if err := keel.InYears("at", t); err != nil {
				return f, ff, err
			}
			f.At = t.UTC()
		} else if f.At, err = parseTime("at", ff.At); err != nil {
			return f, ff, err
		}
	}
	var files []*multipart.FileHeader
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["attachment"] {
			if fh.Filename == "" && fh.Size == 0 { // the file input left empty
				continue
			}
			files = append(files, fh)
		}
	}
	for i, fh := range files {
		a, err := custAttachmentOf(fmt.Sprintf("attachments[%d]", i), fh)
		if err != nil {
			return f, ff, err
		}
		f.Attachments = append(f.Attachments, a)
	}
	return f, ff, f.Validate(now)
}

// custAttachmentOf reads one uploaded file. Its type is the one the browser
// sent when that is a media type, else application/octet-stream; its
// name is the file's base name (some browsers send the whole path).
func custAttachmentOf(field string, fh *multipart.FileHeader) (keel.Attachment, error) {
	name := path.Base(strings.ReplaceAll(fh.Filename, `\`, "/"))
	if name == "." || name == "/" {
		name = ""
	}
	ct, ok := mediaType(fh.Header.Get("Content-Type"))
	if !ok {
		ct = "application/octet-stream"
	}
	if fh.Size > keel.MaxAttachmentBytes {
		return keel.Attachment{}, keel.FieldErrorf(keel.ETOOLARGE, field, "%s is over %d MiB", name, keel.MaxAttachmentBytes>>20)
	}
	file, err := fh.Open()
	if err != nil {
		return keel.Attachment{}, fmt.Errorf("open upload %s: %w", field, err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, keel.MaxAttachmentBytes+1))
	if err != nil {
		return keel.Attachment{}, fmt.Errorf("read upload %s: %w", field, err)
	}
	return keel.Attachment{Name: name, ContentType: ct, Size: int64(len(data)), Data: data}, nil
}

func (s *server) handleFollowUpAddPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		loc := s.location()
		f, ff, err := followUpOfForm(r, id, s.Now(), loc)
		if err == nil {
			_, err = s.Store.AddFollowUp(r.Context(), employeeFrom(r.Context()), f)
		}
		if err != nil {
			if !formRefused(err) {
				return err
			}
			status := statusOf(keel.ErrorCode(err))
			ff.Error = l.Refusal(err)
			return s.render360(w, r, id, status, &ff)
		}
		s.redirect(w, r, "/customers/"+strconv.FormatInt(id, 10)+"#followups", l.T("Follow-up added."))
		return nil
	})
}

// custSubscriptionRow is one subscription on the 360 page.
type custSubscriptionRow struct {
	Product, Unit string
	Quantity      int64 // in service today (or on its first / last day)
	Start, End    string
	DaysLeft      int
	ShowDaysLeft  bool
	Status        string
	StatusLabel   string
	Trial         bool
}

type custOrderRow struct {
	ID                     int64
	Kind, Status           string
	KindLabel, StatusLabel string
	Total                  int64
	Currency               string
	CreatedAt              time.Time
}

type custFollowUpRow struct {
	keel.FollowUp
	KindLabel string
	Author    string
}

// custActivityPanel is the customer's product activity on the 360 page.
type custActivityPanel struct {
	Trend           keel.Trend
	TrendLabel      string
	Today, WAU, MAU int64
	Logins90        int64
	Chart           string
	From, To        string
}

type customer360Data struct {
	C                   keel.CustomerView
	StatusLabel         string
	Sales, CSM          string
	Subscriptions       []custSubscriptionRow
	Orders              []custOrderRow
	OrdersTotal         int
	FollowUps           []custFollowUpRow
	FollowUpTotal       int
	Pager               pager
	Form                followUpForm
	Activity            *custActivityPanel
	ActivityUnavailable bool
}

func (s *server) handleCustomer360() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		return s.render360(w, r, id, http.StatusOK, nil)
	})
}

// render360 shows a customer with everything known about it; ff is the
// follow-up form as typed when it was refused, nil for a fresh one.
func (s *server) render360(w http.ResponseWriter, r *http.Request, id int64, status int, ff *followUpForm) error {
	ctx := r.Context()
	l := s.langOf(r)
	v, err := s.Store.Customer(ctx, id)
	if err != nil {
		return err
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	emps, err := s.Store.Employees(ctx)
	if err != nil {
		return err
	}
	names := employeeNames(emps)
	now := s.Now()
	today, loc := s.today(), s.location()
	d := customer360Data{C: v, StatusLabel: customerStatusLabel(l, v.Status), Sales: names.ofPtr(v.SalesOwner), CSM: names.ofPtr(v.CSMOwner)}

	if len(v.Subscriptions) > 0 {
		products, err := s.Store.Products(ctx)
		if err != nil {
			return err
		}
		byID := map[int64]keel.Product{}
		for _, e := range products {
			byID[e.Product.ID] = e.Product
		}
		for _, sub := range v.Subscriptions {
			j := toSubscriptionJSON(sub, now)
			pr := byID[sub.ProductID]
			row := custSubscriptionRow{Product: pr.Name, Unit: pr.Unit, Quantity: j.Quantity, Status: j.Status,
				StatusLabel: subscriptionStatusLabel(l, j.Status), Trial: j.Trial}
			if row.Product == "" {
				row.Product = "#" + strconv.FormatInt(sub.ProductID, 10)
			}
			if j.Start != nil {
				row.Start, row.End = *j.Start, *j.End
			}
			if st := keel.SubscriptionStatus(j.Status); st == keel.SubActive || st == keel.SubPending {
				row.ShowDaysLeft = true
				row.DaysLeft = int(sub.End().Sub(keel.Date(now)).Hours() / 24)
			}
			d.Subscriptions = append(d.Subscriptions, row)
		}
	}

	orders, n, err := s.Store.Orders(ctx, keel.OrderFilter{CustomerID: id, Page: keel.Page{Limit: 20}})
	if err != nil {
		return err
	}
	d.OrdersTotal = n
	for _, o := range orders {
		d.Orders = append(d.Orders, custOrderRow{ID: o.ID, Kind: string(o.Kind), Status: string(o.Status), KindLabel: orderKindLabel(l, o.Kind),
			StatusLabel: orderStatusLabel(l, o.Status), Total: o.Total(), Currency: o.Currency, CreatedAt: o.CreatedAt})
	}

	fus, n, err := s.Store.FollowUps(ctx, id, p)
	if err != nil {
		return err
	}
	// Links go to the customer's page, also when a refused follow-up form
	// (posted to …/followups) shows it.
	d.FollowUpTotal, d.Pager = n, pagerAt("/customers/"+strconv.FormatInt(id, 10), r.URL.Query(), p, n)
	for _, f := range fus {
		d.FollowUps = append(d.FollowUps, custFollowUpRow{FollowUp: f, KindLabel: followUpKindLabel(l, f.Kind), Author: names.of(f.AuthorID)})
	}

	if ff == nil {
		ff = &followUpForm{Kind: string(keel.FollowUpCall), At: now.In(loc).Format(custLocalMinute)}
	}
	for _, k := range keel.FollowUpKinds {
		ff.Kinds = append(ff.Kinds, option{Value: string(k), Label: followUpKindLabel(l, k), Selected: string(k) == ff.Kind})
	}
	ff.Zone = loc.String()
	d.Form = *ff

	if v.TenantID != "" {
		from := today.AddDays(-89)
		a, err := s.Warehouse.Activity(ctx, v.TenantID, from, today, s.Settings)
		if err != nil {
			// The records are Postgres's; they are shown without ClickHouse.
			s.Log.Error("console", "path", r.URL.Path, "err", fmt.Errorf("customer %d activity: %w", id, err))
			d.ActivityUnavailable = true
		} else {
			ap := &custActivityPanel{Trend: a.Trend, TrendLabel: trendLabel(l, a.Trend), Chart: activityChart(l, a), From: from.String(), To: today.String()}
			if n := len(a.Days); n > 0 {
				last := a.Days[n-1]
				ap.Today, ap.WAU, ap.MAU = last.ActiveUsers, last.WAU, last.MAU
			}
			for _, day := range a.Days {
				ap.Logins90 += day.Logins
			}
			d.Activity = ap
		}
	}
	s.render(w, r, status, "customer", page{Title: v.Name, Nav: "customers", Data: d})
	return nil
}
