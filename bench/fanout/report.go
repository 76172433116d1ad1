package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/forkline/forkline/internal/devstack"
)

// who ran a phase: the floor one at a time, the floor 4 at a time, or
// forkline.
type who int

const (
	floorSeq who = iota
	floor4
	forkline
)

var columns = [...]string{"floor, 1 at a time", "floor, 4 at a time", "forkline"}

// probe samples what a phase costs: the requests of whoever ran it and the
// CPU time of the manager, kube-apiserver and porch-server.
type probe struct {
	s  *devstack.Stack
	m  *manager
	fl *floor
}

func newProbe(s *devstack.Stack, m *manager, fl *floor) *probe { return &probe{s: s, m: m, fl: fl} }

type sample struct {
	requests             map[string]float64 // by "group verb"
	porch                float64            // requests to porch.kpt.dev
	manager, api, porchd float64
}

func (p *probe) sample(w who) (sample, error) {
	var out sample
	var err error
	if w == forkline {
		if out.requests, out.porch, err = p.m.requests(); err != nil {
			return out, fmt.Errorf("scraping the manager's metrics: %w", err)
		}
	} else {
		// The floor calls Porch and nothing else.
		out.requests = map[string]float64{}
		for verb, n := range p.fl.requests.snapshot() {
			out.requests[porchGroup+" "+verb] = n
			out.porch += n
		}
	}
	cpu := func(pid int) float64 {
		u, err := devstack.ProcessUsage(pid)
		if err != nil {
			return 0
		}
		return u.CPUSeconds
	}
	pids := p.s.PIDs()
	out.manager, out.api, out.porchd = cpu(p.m.proc.PID()), cpu(pids["kube-apiserver"]), cpu(pids["porch-server"])
	return out, nil
}

// cell is one phase run by one party.
type cell struct {
	took                 time.Duration
	requests             map[string]float64 // by "group verb"
	porch                float64            // requests to porch.kpt.dev
	manager, api, porchd float64            // CPU seconds
}

func (c *cell) total() float64 {
	var n float64
	for _, v := range c.requests {
		n += v
	}
	return n
}

type row struct {
	name  string
	cells [len(columns)]*cell
}

// report is every phase for one N.
type report struct {
	n, variants int
	rows        []*row
	rss         devstack.Usage
}

// add runs do as one phase of w and records its cost.
func (r *report) add(p *probe, name string, w who, do func() error) error {
	return r.addFrom(p, name, w, nil, do)
}

// addFrom is add with a start: requests count from before prepare, and
// the clock runs from the moment prepare returns (now when zero).
func (r *report) addFrom(p *probe, name string, w who, prepare func() (time.Time, error), do func() error) error {
	before, err := p.sample(w)
	if err != nil {
		return err
	}
	var start time.Time
	if prepare != nil {
		if start, err = prepare(); err != nil {
			return fmt.Errorf("%s (%s): %w", name, columns[w], err)
		}
	}
	if start.IsZero() {
		start = time.Now()
	}
	if err := do(); err != nil {
		return fmt.Errorf("%s (%s): %w", name, columns[w], err)
	}
	took := time.Since(start)
	after, err := p.sample(w)
	if err != nil {
		return err
	}
	c := &cell{took: took, requests: map[string]float64{}, porch: after.porch - before.porch, manager: after.manager - before.manager, api: after.api - before.api, porchd: after.porchd - before.porchd}
	for verb, n := range after.requests {
		if d := n - before.requests[verb]; d > 0 {
			c.requests[verb] = d
		}
	}
	var rw *row
	for _, existing := range r.rows {
		if existing.name == name {
			rw = existing
		}
	}
	if rw == nil {
		rw = &row{name: name}
		r.rows = append(r.rows, rw)
	}
	rw.cells[w] = c
	return nil
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n## N = %d downstream repositories (%d variants at the end)\n\n", r.n, r.variants)
	seconds := func(c *cell) float64 { return c.took.Seconds() }
	r.ratioTable(w, "", func(c *cell) string { return fmt.Sprintf("%.1f s", c.took.Seconds()) }, seconds)
	r.ratioTable(w, "API requests (per variant) and by verb:", func(c *cell) string {
		return fmt.Sprintf("%.0f (%.1f) %s", c.total(), c.total()/float64(r.n), byVerb(c.requests))
	}, (*cell).total)
	porch := func(c *cell) float64 { return c.porch }
	r.ratioTable(w, "Of those, requests to Porch (porch.kpt.dev), per variant:", func(c *cell) string {
		return fmt.Sprintf("%.0f (%.1f)", c.porch, c.porch/float64(r.n))
	}, porch)
	fmt.Fprintf(w, "\nforkline's requests by API group and verb:\n\n| phase | forkline |\n|---|---|\n")
	for _, rw := range r.rows {
		if c := rw.cells[forkline]; c != nil {
			fmt.Fprintf(w, "| %s | %s |\n", rw.name, byGroup(c.requests))
		}
	}
	fmt.Fprintf(w, "\nCPU seconds (forkline's manager / kube-apiserver / porch-server):\n\n| phase | %s |\n|---|---|---|---|\n", strings.Join(columns[:], " | "))
	for _, rw := range r.rows {
		line := []string{rw.name}
		for i, c := range rw.cells {
			switch {
			case c == nil:
				line = append(line, "–")
			case who(i) == forkline:
				line = append(line, fmt.Sprintf("%.1f / %.1f / %.1f", c.manager, c.api, c.porchd))
			default:
				line = append(line, fmt.Sprintf("– / %.1f / %.1f", c.api, c.porchd))
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(line, " | "))
	}
	fmt.Fprintf(w, "\nforkline's manager: RSS %.0f MiB now, %.0f MiB at its peak\n", mib(r.rss.RSS), mib(r.rss.PeakRSS))
}

// ratioTable prints one row a phase: each party's cell as show has it,
// then forkline's ratio to the 4-way floor of value.
func (r *report) ratioTable(w io.Writer, title string, show func(*cell) string, value func(*cell) float64) {
	if title != "" {
		fmt.Fprintf(w, "\n%s\n\n", title)
	}
	fmt.Fprintf(w, "| phase | %s | forkline / 4-way floor |\n|---|---|---|---|---|\n", strings.Join(columns[:], " | "))
	for _, rw := range r.rows {
		line := []string{rw.name}
		for _, c := range rw.cells {
			if c == nil {
				line = append(line, "–")
				continue
			}
			line = append(line, show(c))
		}
		line = append(line, ratio(rw.cells[forkline], rw.cells[floor4], value))
		fmt.Fprintf(w, "| %s |\n", strings.Join(line, " | "))
	}
}

func ratio(ours, floor *cell, of func(*cell) float64) string {
	if ours == nil || floor == nil || of(floor) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", of(ours)/of(floor))
}

const porchGroup = "porch.kpt.dev"

// byVerb sums requests keyed "group verb" by verb: "GET 2, POST 10".
func byVerb(requests map[string]float64) string {
	verbs := map[string]float64{}
	for k, n := range requests {
		_, verb, _ := strings.Cut(k, " ")
		verbs[verb] += n
	}
	return joinCounts(verbs, ", ")
}

// byGroup lists requests keyed "group verb" as they are, a group after
// another: "core POST 10; porch.kpt.dev GET 2, POST 10".
func byGroup(requests map[string]float64) string {
	groups := map[string]map[string]float64{}
	for k, n := range requests {
		group, verb, _ := strings.Cut(k, " ")
		if groups[group] == nil {
			groups[group] = map[string]float64{}
		}
		groups[group][verb] += n
	}
	parts := make([]string, 0, len(groups))
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		parts = append(parts, g+" "+joinCounts(groups[g], ", "))
	}
	return strings.Join(parts, "; ")
}

func joinCounts(counts map[string]float64, sep string) string {
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, counts[k]))
	}
	return strings.Join(parts, sep)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
