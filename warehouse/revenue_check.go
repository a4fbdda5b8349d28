package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/keelhq/keel"
)

// RevenueMismatch is a customer's month whose movement does not explain its
// MRR: end ≠ start + new + expansion + reactivation − contraction − churn,
// with start the month before's stored MRR (0 when it has no row).
type RevenueMismatch struct {
	CustomerID int64
	Currency   string
	Month      keel.Month
	Start, End keel.Exact
	Movement   keel.Movement
	Change     keel.Exact
}

func checkRevenueQuery() string {
	return `SELECT customer_id, currency, month, den, mrr_num, movement, change_num
FROM revenue FINAL
WHERE row_kind = 'month' AND ` + revenueLatest + `
ORDER BY currency, customer_id, month`
}

// CheckRevenue checks the identity of METRICS.md for every customer and
// month stored — `keel revenue check`. It reads the stored rows alone (not
// what the computation thought the month before was), so a row lost or
// left from an older computation shows as a mismatch. It returns the
// mismatches and how many months it checked.
func (s *Store) CheckRevenue(ctx context.Context) ([]RevenueMismatch, int, error) {
	rows, err := s.conn.Query(ctx, checkRevenueQuery())
	if err != nil {
		return nil, 0, fmt.Errorf("check revenue: %w", err)
	}
	defer rows.Close()
	var out []RevenueMismatch
	n := 0
	var lastCustomer uint64
	var lastCurrency string
	var lastMonth keel.Month
	var lastMRR keel.Exact
	for rows.Next() {
		var id uint64
		var cur, mv string
		var month time.Time
		var den, mrr, change int64
		if err := rows.Scan(&id, &cur, &month, &den, &mrr, &mv, &change); err != nil {
			return nil, 0, fmt.Errorf("check revenue: %w", err)
		}
		n++
		m := keel.MonthOf(month)
		var start keel.Exact
		if id == lastCustomer && cur == lastCurrency && m == lastMonth+1 {
			start = lastMRR
		}
		end, delta := keel.ExactRatio(mrr, den), keel.ExactRatio(change, den)
		var sum keel.ExactSum
		sum.Add(start)
		switch keel.Movement(mv) {
		case keel.MoveNew, keel.MoveExpansion, keel.MoveReactivation:
			sum.Add(delta)
		case keel.MoveContraction, keel.MoveChurn:
			sum.Sub(delta)
		}
		if got, _ := sum.Exact(); got != end {
			out = append(out, RevenueMismatch{CustomerID: int64(id), Currency: cur, Month: m, Start: start, End: end, Movement: keel.Movement(mv), Change: delta})
		}
		lastCustomer, lastCurrency, lastMonth, lastMRR = id, cur, m, end
	}
	return out, n, rows.Err()
}
