package merge

import (
	"errors"
	"strings"
)

// A big package's release changes a few of its files; the merge's memory
// is its parsed YAML (about ten times the text), so a merge keeps parsed
// only what the release can change (the rest is read for its identities
// and let go).
//
// A file upstream left byte for byte as base had it changed none of its
// resources: each merges to the downstream's as it is, wherever downstream
// keeps it, or to nothing where downstream deleted it, which is just what
// downstream's resources alone merge to. So base's and upstream's copies
// are left out, and the downstream's copy goes into the result as it is
// (verbatim) unless it holds a resource the rest of the merge also holds
// (one downstream moved there from a file upstream changed): then it is
// parsed and merged. An identity held twice on one side is told apart by
// file in path order, which leaving files out can renumber: such a
// package is merged whole.

// errMergeWhole is a reduced merge that cannot stand for the whole one.
var errMergeWhole = errors.New("the package is merged whole")

// untouchedFiles are the files upstream left byte for byte as base had
// them; a file that defines a CRD is not among them, since its schema
// says how other files' lists merge.
func untouchedFiles(b, u Tree) map[string]bool {
	out := map[string]bool{}
	for fp, text := range b {
		if ut, ok := u[fp]; ok && ut == text && !definesCRD(text) {
			out[fp] = true
		}
	}
	return out
}

func definesCRD(text string) bool { return strings.Contains(text, "CustomResourceDefinition") }

// reducedMerge is the merge without the untouched files' base and
// upstream copies, and with the downstream's copies that merge alone
// verbatim; errMergeWhole when it cannot stand for the whole merge.
func reducedMerge(bt, ut, dt Tree, untouched map[string]bool, policy ConflictPolicy) (*Result, error) {
	b, err := parseSide("base", except(bt, untouched))
	if err != nil {
		return nil, err
	}
	u, err := parseSide("upstream", except(ut, untouched))
	if err != nil {
		return nil, err
	}
	if b.renumbered || u.renumbered {
		return nil, errMergeWhole
	}
	// Upstream's copies are base's: an identity they hold that base or
	// upstream also holds elsewhere is held twice there.
	inBase := map[string]bool{}
	for fp := range untouched {
		ids, ok := identities(fp, bt[fp])
		if !ok {
			return nil, errMergeWhole // the whole merge names the line
		}
		for _, id := range ids {
			if inBase[id] || b.byID[id] != nil || u.byID[id] != nil {
				return nil, errMergeWhole
			}
			inBase[id] = true
		}
	}
	verbatim := Tree{}
	held := map[string]bool{} // the identities the verbatim files hold
	for fp := range untouched {
		text, ok := dt[fp]
		if !ok || definesCRD(text) {
			continue
		}
		ids, ok := identities(fp, text)
		if !ok {
			continue // parsed with the rest: its error names the line
		}
		alone := true
		for _, id := range ids {
			if b.byID[id] != nil || u.byID[id] != nil {
				alone = false
			}
		}
		if !alone {
			continue
		}
		for _, id := range ids {
			held[id] = true
		}
		verbatim[fp] = text
	}
	d, err := parseSide("downstream", except(dt, keys(verbatim)))
	if err != nil {
		return nil, err
	}
	if d.renumbered {
		return nil, errMergeWhole
	}
	for id := range held {
		if d.byID[id] != nil {
			return nil, errMergeWhole // a copy in a file upstream changed
		}
	}
	return mergeParsed(b, u, d, policy, verbatim)
}

// identities are the resources a file holds, read and let go; ok is false
// for a file that does not parse or holds one identity twice.
func identities(fp, text string) (ids []string, ok bool) {
	f, err := parseFile(fp, text)
	if err != nil {
		return nil, false
	}
	seen := map[string]bool{}
	for _, r := range f.resources() {
		if seen[r.id] {
			return nil, false
		}
		seen[r.id] = true
		ids = append(ids, r.id)
	}
	return ids, true
}

// ParsedBytes is about how much of the three trees' text a resource merge
// of them parses, which is what its memory follows: the files upstream
// changed, on each side.
func ParsedBytes(base, upstream, downstream Tree) int {
	n := 0
	untouched := untouchedFiles(base, upstream)
	for _, t := range []Tree{base, upstream, downstream} {
		for fp, text := range t {
			if !untouched[fp] {
				n += len(fp) + len(text)
			}
		}
	}
	return n
}

// except is t less the given files.
func except(t Tree, files map[string]bool) Tree {
	out := make(Tree, len(t))
	for fp, text := range t {
		if !files[fp] {
			out[fp] = text
		}
	}
	return out
}

func keys(t Tree) map[string]bool {
	out := make(map[string]bool, len(t))
	for fp := range t {
		out[fp] = true
	}
	return out
}
