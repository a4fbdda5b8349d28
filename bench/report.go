package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// newTable is what every report's table is written through: cells end in
// a tab, columns are padded to line up with two spaces between them, and
// nothing shows until Flush.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// megabytes shows a size in bytes as whole MiB, as the README's tables do.
func megabytes(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

// countSummary writes counts by name in name order: "200×38 500×2".
func countSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// writeJSON writes a report as indented JSON, for scripts that compare
// runs.
func writeJSON(w io.Writer, report any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report)
}
