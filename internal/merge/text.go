package merge

import (
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Conflict markers in merged non-KRM files, git's diff3 style.
const (
	markerDownstream = "<<<<<<< downstream"
	markerBase       = "||||||| base"
	markerSep        = "======="
	markerUpstream   = ">>>>>>> upstream"
)

// textHunk is one conflicting region of a line merge, in base's lines.
type textHunk struct {
	baseStart, baseEnd int // 1-based, inclusive; baseEnd < baseStart for an insertion
	base, up, down     string
}

// mergeLines is diff3: regions where only one side changed take that side;
// regions both changed differently are conflicts, written with markers
// (a file), or as downstream's lines (a string value, which markers would
// corrupt), or resolved by policy. Either way every other region's change
// is applied.
func mergeLines(base, up, down string, policy ConflictPolicy, markers bool) (string, []textHunk) {
	o, a, b := splitLines(base), splitLines(up), splitLines(down)
	ma, mb := matchMap(o, a), matchMap(o, b)

	var out strings.Builder
	var hunks []textHunk
	emit := func(lines []string) {
		for _, l := range lines {
			out.WriteString(l)
		}
	}
	unstable := func(o0, o1, a0, a1, b0, b1 int) {
		oc, ac, bc := o[o0:o1], a[a0:a1], b[b0:b1]
		switch {
		case sameLines(ac, bc), sameLines(oc, ac):
			emit(bc)
		case sameLines(oc, bc):
			emit(ac)
		case policy == PreferUpstream:
			emit(ac)
		case policy == PreferDownstream:
			emit(bc)
		default:
			hunks = append(hunks, textHunk{baseStart: o0 + 1, baseEnd: o1, base: join(oc), up: join(ac), down: join(bc)})
			if !markers {
				emit(bc)
				return
			}
			for _, section := range []struct {
				marker string
				lines  []string
			}{{markerDownstream, bc}, {markerBase, oc}, {markerSep, ac}} {
				out.WriteString(section.marker + "\n")
				emit(withNewline(section.lines))
			}
			out.WriteString(markerUpstream + "\n")
		}
	}

	lo, la, lb := 0, 0, 0
	for lo < len(o) || la < len(a) || lb < len(b) {
		// A stable run: base lines both sides kept in place.
		i := 0
		for lo+i < len(o) && ma[lo+i] == la+i && mb[lo+i] == lb+i {
			i++
		}
		if i > 0 {
			emit(o[lo : lo+i])
			lo, la, lb = lo+i, la+i, lb+i
			continue
		}
		// An unstable run up to the next base line both sides kept.
		next := lo
		for next < len(o) && (ma[next] < 0 || mb[next] < 0) {
			next++
		}
		if next == len(o) {
			unstable(lo, len(o), la, len(a), lb, len(b))
			break
		}
		unstable(lo, next, la, ma[next], lb, mb[next])
		lo, la, lb = next, ma[next], mb[next]
	}
	return out.String(), hunks
}

// matchMap maps each base line to the line of other it matches, or -1.
func matchMap(base, other []string) []int {
	m := make([]int, len(base))
	for i := range m {
		m[i] = -1
	}
	matcher := difflib.NewMatcherWithJunk(base, other, false, nil)
	for _, blk := range matcher.GetMatchingBlocks() {
		for k := 0; k < blk.Size; k++ {
			m[blk.A+k] = blk.B + k
		}
	}
	return m
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func sameLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func join(lines []string) string { return strings.Join(lines, "") }

// withNewline makes sure a marker section ends its last line.
func withNewline(lines []string) []string {
	if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
		out := append([]string(nil), lines...)
		out[n-1] += "\n"
		return out
	}
	return lines
}

// conflict reports the hunk, its path the line range after prefix.
func (h textHunk) conflict(file, resource, prefix string) Conflict {
	return Conflict{File: file, Resource: resource, Path: prefix + h.path(), Base: orAbsent(h.base), Upstream: orAbsent(h.up), Downstream: orAbsent(h.down)}
}

func (h textHunk) path() string {
	if h.baseEnd < h.baseStart {
		return fmt.Sprintf("after line %d", h.baseEnd)
	}
	return fmt.Sprintf("lines %d-%d", h.baseStart, h.baseEnd)
}
