package warehouse

import "testing"

func TestStoredFactsQuery(t *testing.T) {
	sql, args := storedFactsQuery([]FactKey{{CustomerID: 12, ID: 9}, {CustomerID: 3, ID: 4}, {CustomerID: 12, ID: 10}})
	want := "SELECT DISTINCT fact_id FROM facts WHERE customer_id IN (3, 12) AND fact_id IN (4, 9, 10)"
	if sql != want || len(args) != 0 {
		t.Errorf("got %q %v, want %q", sql, args, want)
	}
}
