package console

import (
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/keelhq/keel"
)

// routes is every route of the console: the pages, the static files and
// the JSON API. Each mutating route names the action it needs, checked
// here before the handler runs (and again by the store, which is what
// guarantees that an unauthorised call changes nothing).
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(securityHeaders)
	r.Use(oneRevenueStamp)
	static, _ := fs.Sub(staticFS, "static")
	r.Method(http.MethodGet, "/static/*", http.StripPrefix("/static/", cacheForever(http.FileServerFS(static))))
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })

	// Pages: sign-in first, then everything behind a session, with every
	// form's CSRF token checked.
	r.With(s.checkText(s.renderError, true)).Get("/login", s.handleLoginForm())
	r.With(s.checkText(s.renderError, true)).Post("/login", s.handleLogin())
	r.Group(func(r chi.Router) {
		r.Use(s.signedIn, s.checkForm, s.checkText(s.renderError, true))
		r.Post("/logout", s.handleLogout())
		r.Post("/me/locale", s.handleLocale())
		r.Get("/me/password", s.handlePasswordPage())
		r.Post("/me/password", s.handlePasswordChange())
		r.Get("/", s.handleHome())

		r.Route("/customers", func(r chi.Router) {
			write := r.With(s.need(keel.ActCustomerWrite))
			r.Get("/", s.handleCustomersPage())
			write.Get("/new", s.handleCustomerNewPage())
			write.Post("/", s.handleCustomerCreatePage())
			r.Get("/{id}", s.handleCustomer360())
			change := r.With(s.needCustomerChange)
			change.Get("/{id}/edit", s.handleCustomerEditPage())
			change.Post("/{id}", s.handleCustomerSavePage())
			r.With(s.need(keel.ActFollowUpAdd)).Post("/{id}/followups", s.handleFollowUpAddPage())
		})
		r.Get("/attachments/{id}", s.handleAttachmentDownload())

		r.Route("/products", func(r chi.Router) {
			write := r.With(s.need(keel.ActCatalogueWrite))
			r.Get("/", s.handleProductsPage())
			write.Post("/", s.handleProductCreateForm())
			r.Get("/{id}", s.handleProductPage())
			write.Post("/{id}/status", s.handleProductStatusForm())
			write.Post("/{id}/prices", s.handlePriceForm())
		})

		r.Route("/orders", func(r chi.Router) {
			create, decide := r.With(s.need(keel.ActOrderCreate)), r.With(s.need(keel.ActOrderDecide))
			r.Get("/", s.handleOrdersPage())
			create.Get("/new", s.handleOrderNewPage())
			r.Get("/new/customers", s.handleOrderCustomerChoices()) // JSON; checks the role itself
			create.Post("/", s.handleOrderCreateForm())
			r.Get("/{id}", s.handleOrderPage())
			create.Get("/{id}/edit", s.handleOrderEditPage())
			create.Post("/{id}", s.handleOrderSaveForm())
			create.Post("/{id}/delete", s.handleOrderDeleteForm())
			create.Post("/{id}/submit", s.handleOrderSubmitForm())
			decide.Post("/{id}/approve", s.handleOrderApproveForm())
			decide.Post("/{id}/reject", s.handleOrderRejectForm())
			decide.Post("/{id}/void", s.handleOrderVoidForm())
		})
		r.With(s.need(keel.ActOrderDecide)).Get("/approvals", s.handleApprovalsPage())

		r.Get("/activity", s.handleActivity())
		r.Get("/activity/tenants/{tenant}", s.handleTenantActivity())
		r.Get("/review", s.handleReview())

		r.Route("/employees", func(r chi.Router) {
			r.Use(s.need(keel.ActEmployeeAdmin))
			r.Get("/", s.handleEmployeesPage())
			r.Post("/", s.handleEmployeeAdd())
			r.Get("/{id}", s.handleEmployeePage())
			r.Post("/{id}/roles", s.handleEmployeeRolesForm())
			r.Post("/{id}/locale", s.handleEmployeeLocaleForm())
			r.Post("/{id}/password", s.handleEmployeePasswordForm())
			r.Post("/{id}/deactivate", s.handleEmployeeDeactivateForm())
		})
		r.With(s.need(keel.ActAuditRead)).Get("/audit", s.handleAuditPage())
		r.With(s.need(keel.ActAuditRead)).Get("/security", s.handleSecurityPage())

		// Revenue: the dashboard and the customers behind its numbers
		// (leadership, finance, admin); spend (finance, admin); settings
		// (admin), a section per form.
		r.Group(func(r chi.Router) {
			r.Use(s.need(keel.ActRevenueRead))
			r.Get("/dashboard", s.handleDashboard())
			r.Get("/revenue/customers", s.handleRevenueCustomers())
			r.Get("/revenue/renewals", s.handleRevenueRenewals())
		})
		r.Route("/spend", func(r chi.Router) {
			r.Use(s.need(keel.ActSpendWrite))
			r.Get("/", s.handleSpendPage())
			r.Post("/", s.handleSpendForm())
		})
		r.Route("/settings", func(r chi.Router) {
			r.Use(s.need(keel.ActSettingsWrite))
			r.Get("/", s.handleSettingsPage())
			r.Post("/revenue", s.handleRevenueSettingsForm())
			r.Post("/health", s.handleHealthSettingsForm())
		})

		// Health and churn warnings (CSMs, sales, leadership, admin): the
		// overview, the warning queue and its forms.
		r.With(s.need(keel.ActHealthRead)).Get("/health", s.handleHealthPage())
		r.With(s.need(keel.ActHealthRead)).Get("/alerts", s.handleAlertsPage())
		r.Route("/alerts/{id}", func(r chi.Router) {
			r.Use(s.need(keel.ActAlertWork))
			for _, action := range []string{"ack", "resolve", "snooze", "assign"} {
				r.Post("/"+action, s.handleAlertForm(action))
			}
		})

		// One's own tokens need no role; the store judges anyone else's.
		r.Route("/tokens", func(r chi.Router) {
			keys := r.With(s.need(keel.ActIngestKeyAdmin))
			r.Get("/", s.handleTokensPage())
			r.Post("/", s.handleTokenCreateForm())
			r.Post("/{id}/revoke", s.handleTokenRevokeForm())
			keys.Post("/ingest-keys", s.handleIngestKeyCreateForm())
			keys.Post("/ingest-keys/{id}/revoke", s.handleIngestKeyRevokeForm())
		})

		// The morning digest: one's own (admin: anyone's, and the webhook
		// it is sent to).
		r.With(s.need(keel.ActHealthRead)).Get("/digest", s.handleDigestPage())
		r.With(s.need(keel.ActSettingsWrite)).Post("/digest/webhook", s.handleDigestWebhookForm())
	})

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(noStore)
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			s.apiError(w, r, keel.Errorf(keel.ENOTFOUND, "there is no API route %s", r.URL.Path))
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			e := keel.Invalid("method", "%s is not allowed on %s", r.Method, r.URL.Path)
			writeJSONError(w, http.StatusMethodNotAllowed, e.Code, e.Message(), e.Field)
		})
		r.Use(s.authenticate, s.checkText(s.apiError, false))

		r.Get("/me", s.handleMe())

		r.Route("/customers", func(r chi.Router) {
			r.Get("/", s.handleCustomerList())
			r.With(s.require(keel.ActCustomerWrite)).Post("/", s.handleCustomerCreate())
			r.Route("/{id}", func(r chi.Router) {
				r.Get("/", s.handleCustomerGet())
				r.With(s.requireCustomerChange).Patch("/", s.handleCustomerUpdate(false))
				r.With(s.requireCustomerChange).Put("/", s.handleCustomerUpdate(true))
				r.Get("/followups", s.handleFollowUpList())
				r.With(s.require(keel.ActFollowUpAdd)).Post("/followups", s.handleFollowUpCreate())
				r.With(s.require(keel.ActHealthRead)).Get("/health", s.handleCustomerHealth())
			})
		})
		r.Get("/attachments/{id}", s.handleAttachment())

		r.Route("/products", func(r chi.Router) {
			r.Get("/", s.handleProductList())
			r.With(s.require(keel.ActCatalogueWrite)).Post("/", s.handleProductCreate())
			r.Get("/{id}", s.handleProductGet())
			r.With(s.require(keel.ActCatalogueWrite)).Post("/{id}/prices", s.handlePriceCreate())
			r.With(s.require(keel.ActCatalogueWrite)).Post("/{id}/status", s.handleProductStatus())
		})

		r.Route("/orders", func(r chi.Router) {
			r.Get("/", s.handleOrderList())
			r.With(s.require(keel.ActOrderCreate)).Post("/", s.handleOrderCreate())
			r.Get("/{id}", s.handleOrderGet())
			r.With(s.require(keel.ActOrderCreate)).Put("/{id}", s.handleOrderEdit())
			r.With(s.require(keel.ActOrderCreate)).Delete("/{id}", s.handleOrderDelete())
			r.With(s.require(keel.ActOrderCreate)).Post("/{id}/submit", s.handleOrderSubmit())
			r.With(s.require(keel.ActOrderDecide)).Post("/{id}/approve", s.handleOrderApprove())
			r.With(s.require(keel.ActOrderDecide)).Post("/{id}/reject", s.handleOrderReject())
			r.With(s.require(keel.ActOrderDecide)).Post("/{id}/void", s.handleOrderVoid())
		})
		r.Get("/subscriptions", s.handleSubscriptionList())

		r.Get("/metrics/activity", s.handleActivityMetrics())

		r.Route("/employees", func(r chi.Router) {
			r.Use(s.require(keel.ActEmployeeAdmin))
			r.Get("/", s.handleEmployeeList())
			r.Post("/", s.handleEmployeeCreate())
			r.Put("/{id}/roles", s.handleEmployeeRoles())
			r.Post("/{id}/password", s.handleEmployeePassword())
			r.Post("/{id}/deactivate", s.handleEmployeeDeactivate())
		})
		r.With(s.require(keel.ActAuditRead)).Get("/audit", s.handleAudit())
		r.With(s.require(keel.ActAuditRead)).Get("/sign-ins", s.handleSignIns())

		// Revenue (leadership, finance, admin): the metrics, each also as
		// CSV; the settings (admin changes them) and the spend (finance
		// and admin enter it).
		r.Group(func(r chi.Router) {
			r.Use(s.require(keel.ActRevenueRead))
			r.Get("/metrics/mrr", s.handleMRRMetrics())
			r.Get("/metrics/movements", s.handleMovementMetrics())
			r.Get("/metrics/saas", s.handleSaaSMetrics())
			r.Get("/metrics/cohorts", s.handleCohortMetrics())
			r.Get("/metrics/renewals", s.handleRenewalMetrics())
			r.Get("/settings/revenue", s.handleRevenueSettingsGet())
			r.With(s.require(keel.ActSettingsWrite)).Put("/settings/revenue", s.handleRevenueSettingsPut())
			r.Get("/spend", s.handleSpendList())
			r.With(s.require(keel.ActSpendWrite)).Put("/spend/{month}/{currency}", s.handleSpendPut())
		})

		// Health and churn warnings (CSMs, sales, leadership, admin): the
		// scores, the warnings and working them, the settings (admin
		// changes them).
		r.Group(func(r chi.Router) {
			r.Use(s.require(keel.ActHealthRead))
			r.Get("/health", s.handleHealthList())
			r.Get("/alerts", s.handleAlertList())
			r.Get("/settings/health", s.handleHealthSettingsGet())
			r.With(s.require(keel.ActSettingsWrite)).Put("/settings/health", s.handleHealthSettingsPut())
		})
		r.Route("/alerts/{id}", func(r chi.Router) {
			r.Use(s.require(keel.ActAlertWork))
			r.Post("/ack", s.handleAlertAck())
			r.Post("/resolve", s.handleAlertResolve())
			r.Post("/snooze", s.handleAlertSnooze())
			r.Post("/assign", s.handleAlertAssign())
		})

		// One's own tokens need no role; the store judges anyone else's.
		r.Route("/tokens", func(r chi.Router) {
			r.Get("/", s.handleTokenList())
			r.Post("/", s.handleTokenCreate())
			r.Delete("/{id}", s.handleTokenRevoke())
		})
		r.Route("/ingest-keys", func(r chi.Router) {
			r.Use(s.require(keel.ActIngestKeyAdmin))
			r.Get("/", s.handleIngestKeyList())
			r.Post("/", s.handleIngestKeyCreate())
			r.Delete("/{id}", s.handleIngestKeyRevoke())
		})

		// The morning digest: one's own (admin: anyone's); the delivery
		// log and the webhook (admin).
		r.With(s.require(keel.ActHealthRead)).Get("/digest", s.handleDigestGet())
		r.Group(func(r chi.Router) {
			r.Use(s.require(keel.ActSettingsWrite))
			r.Get("/digest/deliveries", s.handleDigestDeliveries())
			r.Get("/settings/digest", s.handleDigestWebhookGet())
			r.Put("/settings/digest", s.handleDigestWebhookPut())
		})
	})

	// A page that is not there is shown in the console's frame: signed
	// in, with the navigation and in the employee's language.
	r.NotFound(s.maybeSignedIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, keel.Errorf(keel.ENOTFOUND, "There is no page at %s.", r.URL.Path))
	})).ServeHTTP)
	return r
}
