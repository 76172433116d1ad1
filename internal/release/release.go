// Package release picks the upstream revision a variant syncs to next: by
// semver constraint or fixed revision, with prereleases, a soak time, a
// pin, and OldestFirst or Latest order. It is pure: the caller passes the
// upstream's published revisions and the time.
package release

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Order is how matching releases are walked.
type Order string

// The orders: every release in turn, or straight to the newest.
const (
	OldestFirst Order = "OldestFirst"
	Latest      Order = "Latest"
)

// Revision is one published upstream revision.
type Revision struct {
	Name      string // the PackageRevision's name
	Revision  string // e.g. v1.21.3
	Published time.Time
}

// Pin holds a variant at one revision until a time (zero: no end).
type Pin struct {
	Revision string
	Until    time.Time
}

// Track is what a variant follows.
type Track struct {
	Versions    string // semver constraint; or
	Revision    string // one fixed revision
	Prereleases bool
	Order       Order
	MinimumAge  time.Duration
	Pin         *Pin
	// Skip are constraints (a revision is one) of releases never taken by
	// following the track.
	Skip []string
}

// Selection is the outcome.
type Selection struct {
	// Target is the revision to sync to next; nil when the downstream is
	// where it should be, or nothing matches yet.
	Target *Revision
	// LatestMatching is the newest revision the track matches.
	LatestMatching string
	// Available are matching revisions newer than current, oldest first.
	Available []string
	// Waiting says why no target was taken although one exists (a soak
	// time, a pin), and RetryAt when that may change.
	Waiting string
	RetryAt time.Time
	// Message explains an empty selection for status.
	Message string
}

// ParseConstraint checks a versions constraint, for validation.
func ParseConstraint(versions string) (*semver.Constraints, error) {
	c, err := semver.NewConstraint(versions)
	if err != nil {
		return nil, fmt.Errorf("upstream.versions %q is not a semver constraint: %w", versions, err)
	}
	return c, nil
}

// NotPublishedError is a spec naming a release the upstream does not
// publish: a typo most often, so a person is told, with the newest
// release there is. The same whether a pin or a fixed revision names it.
type NotPublishedError struct {
	Field, Revision, Newest string
}

func (e *NotPublishedError) Error() string {
	newest := "it publishes none"
	if e.Newest != "" {
		newest = "the newest is " + e.Newest
	}
	return fmt.Sprintf("%s %q is not a published release of the upstream package (%s); fix it, or forkline goes on once upstream publishes it", e.Field, e.Revision, newest)
}

// newest is the highest semver release, or the last published of others.
func newest(revisions []Revision) string {
	best, bestV := "", (*semver.Version)(nil)
	var last Revision
	for _, r := range revisions {
		if v, ok := parse(r.Revision); ok && (bestV == nil || v.GreaterThan(bestV)) {
			best, bestV = r.Revision, v
		}
		if !r.Published.Before(last.Published) {
			last = r
		}
	}
	if best == "" {
		return last.Revision
	}
	return best
}

// Select picks the next target for a downstream currently on revision
// current ("" before the first sync).
func Select(track Track, current string, revisions []Revision, now time.Time) (Selection, error) {
	if pin := track.Pin; pin != nil && (pin.Until.IsZero() || now.Before(pin.Until)) {
		sel := Selection{LatestMatching: pin.Revision}
		if pin.Revision == current {
			sel.Message = fmt.Sprintf("pinned at %s", pin.Revision)
			if !pin.Until.IsZero() {
				sel.Message += " until " + pin.Until.UTC().Format(time.RFC3339)
				sel.RetryAt = pin.Until
			}
			return sel, nil
		}
		r := find(revisions, pin.Revision)
		if r == nil {
			return sel, &NotPublishedError{Field: "pin.revision", Revision: pin.Revision, Newest: newest(revisions)}
		}
		sel.Target = r
		return sel, nil
	}
	if track.Revision != "" {
		sel := Selection{LatestMatching: track.Revision}
		r := find(revisions, track.Revision)
		if r == nil {
			return sel, &NotPublishedError{Field: "upstream.revision", Revision: track.Revision, Newest: newest(revisions)}
		}
		if r.Revision != current {
			sel.Target = r
		}
		return sel, nil
	}

	constraint, err := ParseConstraint(track.Versions)
	if err != nil {
		return Selection{}, err
	}
	skip, err := parseSkip(track.Skip)
	if err != nil {
		return Selection{}, err
	}
	type match struct {
		rev *Revision
		v   *semver.Version
	}
	var matching []match
	for i := range revisions {
		v, ok := parse(revisions[i].Revision)
		if !ok {
			continue // main, v1: not releases
		}
		if v.Prerelease() != "" {
			if !track.Prereleases {
				continue
			}
			core, _ := v.SetPrerelease("")
			if !constraint.Check(&core) && !constraint.Check(v) {
				continue
			}
		} else if !constraint.Check(v) {
			continue
		}
		if skipped(skip, v) {
			continue
		}
		matching = append(matching, match{&revisions[i], v})
	}
	sort.Slice(matching, func(i, j int) bool { return matching[i].v.LessThan(matching[j].v) })
	if len(matching) == 0 {
		return Selection{Message: fmt.Sprintf("no published upstream revision matches %q", track.Versions)}, nil
	}
	sel := Selection{LatestMatching: matching[len(matching)-1].rev.Revision}
	cur, hasCurrent := parse(current)
	var newer []match
	for _, m := range matching {
		if !hasCurrent || m.v.GreaterThan(cur) {
			newer = append(newer, m)
			if len(sel.Available) < 20 {
				sel.Available = append(sel.Available, m.rev.Revision)
			}
		}
	}
	if len(newer) == 0 {
		return sel, nil // up to date
	}
	candidates := newer
	if track.Order == Latest {
		candidates = []match{newer[len(newer)-1]}
	}
	// The soak time: the first candidate (the oldest for OldestFirst, the
	// newest for Latest) is taken once it is old enough; neither order
	// takes another release while it soaks.
	if len(candidates) == 0 {
		return sel, nil
	}
	m := candidates[0]
	if ready := m.rev.Published.Add(track.MinimumAge); track.MinimumAge > 0 && now.Before(ready) {
		sel.Waiting = fmt.Sprintf("%s soaks until %s (minimumReleaseAge %s)", m.rev.Revision, ready.UTC().Format(time.RFC3339), track.MinimumAge)
		sel.RetryAt = ready
		return sel, nil
	}
	sel.Target = m.rev
	return sel, nil
}

// parseSkip reads the skip list: each entry a revision or a constraint.
func parseSkip(entries []string) ([]*semver.Constraints, error) {
	out := make([]*semver.Constraints, 0, len(entries))
	for _, e := range entries {
		c, err := semver.NewConstraint(e)
		if err != nil {
			return nil, fmt.Errorf("upstream.skip entry %q is neither a revision nor a semver constraint: %w", e, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func skipped(skip []*semver.Constraints, v *semver.Version) bool {
	for _, c := range skip {
		if c.Check(v) {
			return true
		}
	}
	return false
}

// Older says whether revision a is an older release than b (both semver).
func Older(a, b string) bool {
	va, okA := parse(a)
	vb, okB := parse(b)
	return okA && okB && va.LessThan(vb)
}

// parse reads a release revision (v1.21.3, 1.21.3, v1.22.0-rc.1); revisions
// that are not full semver (main, v1) are not releases.
func parse(revision string) (*semver.Version, bool) {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(revision, "v"))
	if err != nil {
		return nil, false
	}
	return v, true
}

func find(revisions []Revision, revision string) *Revision {
	for i := range revisions {
		if revisions[i].Revision == revision {
			return &revisions[i]
		}
	}
	return nil
}

// WorkspacePrefix starts every workspace forkline names.
const WorkspacePrefix = "forkline-"

// Workspace is the deterministic draft workspace for a target, so a
// restarted controller finds its draft: v1.21.3 -> forkline-v1-21-3.
func Workspace(revision string) string {
	var b strings.Builder
	b.WriteString(WorkspacePrefix)
	for _, r := range strings.ToLower(revision) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.TrimRight(b.String(), "-")
}
