package synth

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Progress shows a load's progress on w: a bar redrawn in place (percentage,
// rows/s, ETA) when w is a terminal, otherwise a log line every 10 seconds.
type Progress struct {
	w     io.Writer
	log   *slog.Logger
	tty   bool
	every time.Duration

	total int64
	done  atomic.Int64
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

// NewProgress returns a progress display on w, logging to log when w is
// not a terminal.
func NewProgress(w io.Writer, log *slog.Logger) *Progress {
	p := &Progress{w: w, log: log, tty: IsTerminal(w), every: 10 * time.Second}
	if p.tty {
		p.every = 250 * time.Millisecond
	}
	return p
}

// IsTerminal reports whether w is a character device.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Start begins showing progress towards total rows.
func (p *Progress) Start(total int64) {
	p.total, p.start, p.stop = total, time.Now(), make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.show(false)
			}
		}
	}()
}

// Add counts rows written.
func (p *Progress) Add(rows int64) { p.done.Add(rows) }

// Finish stops the display and shows the final state.
func (p *Progress) Finish() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.show(true)
}

func (p *Progress) show(final bool) {
	done := p.done.Load()
	el := time.Since(p.start)
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el.Seconds()
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(done) / float64(p.total)
	}
	eta := "-"
	if rate > 0 && done < p.total {
		eta = clock(time.Duration(float64(p.total-done) / rate * float64(time.Second)))
	}
	if !p.tty {
		if p.log != nil {
			p.log.Info("seed progress", "percent", fmt.Sprintf("%.1f", pct), "rows", done, "total", p.total,
				"rows_per_s", int64(rate), "eta", eta, "elapsed", el.Round(time.Second).String())
		}
		return
	}
	const width = 30
	filled := min(width, int(pct/100*width))
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	line := fmt.Sprintf("\rseeding %5.1f%% %s %s/%s rows  %s rows/s  elapsed %s  ETA %s ",
		pct, bar, Group(done), Group(p.total), Group(int64(rate)), clock(el), eta)
	if final {
		line += "\n"
	}
	_, _ = io.WriteString(p.w, line)
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Group formats n with thousands separators: 1,234,567.
func Group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// PrintManifest writes a table of rows and defects per data center and
// entity, with totals per entity and overall.
func PrintManifest(w io.Writer, m []ManifestRow) error {
	sortManifest(m)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "data center\t"
	for _, e := range EntityNames {
		header += e + "\t"
	}
	header += "total\t"
	fmt.Fprintln(tw, header)
	type cell struct{ rows, defects int64 }
	var byEntity [numTables]cell
	var grand cell
	entityIdx := map[string]int{}
	for i, e := range EntityNames {
		entityIdx[e] = i
	}
	fmtCell := func(c cell) string {
		if c.rows == 0 && c.defects == 0 {
			return "-"
		}
		return Group(c.rows) + " (" + Group(c.defects) + ")"
	}
	for i := 0; i < len(m); {
		dc := m[i].DataCenter
		var cells [numTables]cell
		var sum cell
		for ; i < len(m) && m[i].DataCenter == dc; i++ {
			k := entityIdx[m[i].Entity]
			cells[k] = cell{m[i].Rows, m[i].Defects}
			byEntity[k].rows += m[i].Rows
			byEntity[k].defects += m[i].Defects
			sum.rows += m[i].Rows
			sum.defects += m[i].Defects
		}
		grand.rows += sum.rows
		grand.defects += sum.defects
		line := dc + "\t"
		for _, c := range cells {
			line += fmtCell(c) + "\t"
		}
		fmt.Fprintln(tw, line+fmtCell(sum)+"\t")
	}
	line := "total\t"
	for _, c := range byEntity {
		line += fmtCell(c) + "\t"
	}
	fmt.Fprintln(tw, line+fmtCell(grand)+"\t")
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "cells: rows (of which defective on purpose)")
	return err
}
