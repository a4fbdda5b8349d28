package console

import (
	"slices"

	"github.com/keelhq/keel"
)

// The names of Keel's codes — statuses, kinds, roles — as the console
// shows them, in the reader's language. One place, so that every page
// calls a thing by the same name.

// option is one choice of a <select> or a checkbox group.
type option struct {
	Value, Label string
	Selected     bool
}

// options are the choices of a select or a checkbox group over a list of
// codes (the domain's, such as keel.OrderKinds), each named by label in the
// reader's language, those in selected ticked.
func options[T ~string](l lang, values []T, label func(lang, T) string, selected ...string) []option {
	out := make([]option, len(values))
	for i, v := range values {
		out[i] = option{Value: string(v), Label: label(l, v), Selected: slices.Contains(selected, string(v))}
	}
	return out
}

func productKindLabel(l lang, k keel.ProductKind) string {
	switch k {
	case keel.KindEdition:
		return l.T("Edition")
	case keel.KindAddonTerm:
		return l.T("Add-on on the edition's term")
	case keel.KindAddonStandalone:
		return l.T("Standalone add-on")
	}
	return string(k)
}

func productStatusLabel(l lang, st keel.ProductStatus) string {
	switch st {
	case keel.ProductEnabled:
		return l.T("Enabled")
	case keel.ProductDisabled:
		return l.T("Disabled")
	}
	return string(st)
}

func periodLabel(l lang, p keel.Period) string {
	switch p {
	case keel.PeriodMonth:
		return l.T("per month")
	case keel.PeriodYear:
		return l.T("per year")
	case keel.PeriodOnce:
		return l.T("one-off")
	}
	return string(p)
}

func orderKindLabel(l lang, k keel.OrderKind) string {
	switch k {
	case keel.OrderTrial:
		return l.T("Trial order")
	case keel.OrderNew:
		return l.T("New purchase")
	case keel.OrderRenewal:
		return l.T("Renewal")
	case keel.OrderUpgrade:
		return l.T("Upgrade")
	case keel.OrderAddon:
		return l.T("Add-on purchase")
	}
	return string(k)
}

func orderStatusLabel(l lang, st keel.OrderStatus) string {
	switch st {
	case keel.OrderDraft:
		return l.T("Draft")
	case keel.OrderPending:
		return l.T("Pending approval")
	case keel.OrderApproved:
		return l.T("Approved")
	case keel.OrderRejected:
		return l.T("Rejected")
	case keel.OrderVoid:
		return l.T("Voided")
	}
	return string(st)
}

func subscriptionStatusLabel(l lang, st keel.SubscriptionStatus) string {
	switch st {
	case keel.SubPending:
		return l.T("Not started")
	case keel.SubActive:
		return l.T("In service")
	case keel.SubEnded:
		return l.T("Service ended")
	case keel.SubVoid:
		return l.T("Taken back")
	}
	return string(st)
}

func customerStatusLabel(l lang, st keel.CustomerStatus) string {
	switch st {
	case keel.CustomerProspect:
		return l.T("Prospect")
	case keel.CustomerTrial:
		return l.T("On trial")
	case keel.CustomerActive:
		return l.T("Paying")
	case keel.CustomerRenewed:
		return l.T("Renewed")
	case keel.CustomerChurned:
		return l.T("Churned")
	}
	return string(st)
}

func trendLabel(l lang, t keel.Trend) string {
	switch t {
	case keel.TrendUp:
		return l.T("Logins trending up")
	case keel.TrendDown:
		return l.T("Logins trending down")
	}
	return l.T("Logins flat")
}

func followUpKindLabel(l lang, k keel.FollowUpKind) string {
	switch k {
	case keel.FollowUpCall:
		return l.T("Phone call")
	case keel.FollowUpVisit:
		return l.T("Visit")
	case keel.FollowUpEmail:
		return l.T("Email exchange")
	case keel.FollowUpMeeting:
		return l.T("Meeting")
	case keel.FollowUpNote:
		return l.T("Note")
	}
	return string(k)
}

// roleLabel is a role as the pages name it.
func roleLabel(l lang, r keel.Role) string {
	switch r {
	case keel.RoleAdmin:
		return l.T("Administrator")
	case keel.RoleSales:
		return l.T("Sales")
	case keel.RoleCSM:
		return l.T("Customer success")
	case keel.RoleFinance:
		return l.T("Finance")
	case keel.RoleLeadership:
		return l.T("Leadership")
	}
	return string(r)
}

func entityLabel(l lang, entity string) string {
	switch entity {
	case "customer":
		return l.T("Customer")
	case "follow_up":
		return l.T("Follow-up record")
	case "order":
		return l.T("Order")
	case "product":
		return l.T("Product")
	case "price_version":
		return l.T("Price version")
	case "employee":
		return l.T("Employee")
	case "api_token":
		return l.T("API token")
	case "ingest_key":
		return l.T("Ingest key")
	}
	return entity
}

// credentialStateLabel names a token's or key's state.
func credentialStateLabel(l lang, st keel.CredentialState) string {
	switch st {
	case keel.CredentialExpired:
		return l.T("Expired")
	case keel.CredentialRevoked:
		return l.T("Revoked")
	}
	return l.T("Active")
}
