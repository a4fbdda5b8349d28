package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal, and a line every
// tenth of the way otherwise (logs, CI), so neither gets flooded.
type progress struct {
	w      io.Writer
	label  string
	total  int
	tty    bool
	start  time.Time
	last   time.Time
	lastPc int
}

func newProgress(w io.Writer, label string, total int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, label: label, total: max(total, 1), tty: tty, start: time.Now(), lastPc: -1}
}

// update shows done of total, with a free-form note (e.g. events sent).
func (p *progress) update(done int, note string) {
	pc := done * 100 / p.total
	now := time.Now()
	if p.tty {
		if now.Sub(p.last) < 100*time.Millisecond && done < p.total {
			return
		}
		p.last = now
		width := 30
		filled := width * done / p.total
		fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %s", p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), pc, note)
		return
	}
	if pc/10 != p.lastPc/10 || done == p.total {
		p.lastPc = pc
		fmt.Fprintf(p.w, "%s %3d%% %s\n", p.label, pc, note)
	}
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
