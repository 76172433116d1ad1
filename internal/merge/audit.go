package merge

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The audit checks a resource merge's result against its three inputs,
// leaf by leaf, without the merge's own decisions: every leaf of the result
// is base's value that neither side changed, or the one side's change, or
// sits under a reported conflict; every change of either side is in the
// result or under a reported conflict; every element of a keyed list keeps
// its key; every document parses. A multi-line string both sides changed
// is checked line by line: each side's added and removed lines are in the
// result, but for the lines of a reported conflicting hunk. Comments and
// the order of map keys and list elements are not audited.

// AuditError is a merge result that fails the audit; it is never written.
type AuditError struct {
	File, Resource, Path string
	Problem              string
}

func (e *AuditError) Error() string {
	where := e.File
	if e.Resource != "" {
		where += " " + e.Resource
	}
	if e.Path != "" {
		where += " " + e.Path
	}
	return fmt.Sprintf("the merge fails its audit at %s: %s", where, e.Problem)
}

// audited is what the audit needs of a resource merge: its parsed inputs
// (the merge never changes them) and how it was asked to merge.
type audited struct {
	b, u, d   *pkg
	textPaths map[string]bool
	verbatim  Tree     // downstream files the merge took as they are
	own       []string // subpackages the merge left to the downstream
	policy    ConflictPolicy
}

// Audit checks a merge result (see AuditError); nil when it holds, or when
// the result is not a resource merge (the other strategies copy a side).
func Audit(res *Result) error {
	a := res.audit
	if a == nil {
		return nil
	}
	// The result's documents that are an input's, byte for byte, are
	// known without decoding them again.
	known := make(map[string]parsed, len(a.d.order)+len(a.u.order))
	for _, p := range []*pkg{a.u, a.d} {
		for _, x := range p.order {
			if x.raw != "" && x.node != nil {
				known[x.raw] = parsed{node: x.node, head: x.head}
			}
		}
	}
	if err := a.checkVerbatim(res.Tree); err != nil {
		return err
	}
	r, err := parsePackageKnowing(except(without(res.Tree, a.own), keys(a.verbatim)), known)
	if err != nil {
		return &AuditError{Problem: "the result does not parse: " + err.Error()}
	}
	r.asText(a.textPaths)
	matchUnidentified(a.b, a.u, a.d, r)
	keyTwiceHeldByFile(a.b, a.u, a.d, r)
	cov := coverage(res.Conflicts)
	ids := map[string]bool{}
	for _, p := range []*pkg{a.b, a.u, a.d, r} {
		for id := range p.byID {
			ids[id] = true
		}
	}
	sch := newSchemas(a.b, a.u, a.d)
	for id := range ids {
		rb, ru, rd, rr := a.b.byID[id], a.u.byID[id], a.d.byID[id], r.byID[id]
		if settled(rb, ru, rd, rr) {
			continue
		}
		at := firstOf(rd, ru, rb, rr)
		covered := cov[at.display()]
		if covered.whole {
			continue
		}
		au := &auditor{policy: a.policy, schemas: sch, covered: covered}
		loc := location{file: at.file, res: at}
		if err := au.whole(loc, nodeOf(rb), nodeOf(ru), nodeOf(rd), nodeOf(rr)); err != nil {
			err.File, err.Resource = at.file, at.display()
			if rr != nil {
				err.File = rr.file
			}
			return err
		}
	}
	return nil
}

// checkVerbatim: each file the merge took from the downstream as it is is
// in the result as it is, and holds no resource the rest of the merge
// holds on any side (see reducedMerge).
func (a *audited) checkVerbatim(result Tree) *AuditError {
	for fp, text := range a.verbatim {
		if result[fp] != text {
			return &AuditError{File: fp, Problem: "the result is not the downstream's file, which upstream did not change"}
		}
		ids, _ := identities(fp, text)
		for _, id := range ids {
			for _, p := range []*pkg{a.b, a.u, a.d} {
				if r := p.byID[id]; r != nil {
					return &AuditError{File: fp, Resource: r.display(), Problem: "taken as the downstream has it, but also merged from " + r.file}
				}
			}
		}
	}
	return nil
}

// settled is the common case decided from the documents' text: one side
// left the resource exactly as base had it, and the result is the other
// side's, byte for byte.
func settled(rb, ru, rd, rr *resource) bool {
	same := func(x, y *resource) bool { return x == nil && y == nil || x != nil && y != nil && x.raw == y.raw }
	switch {
	case rb == nil && ru == nil, rb != nil && ru != nil && ru.raw == rb.raw:
		return same(rd, rr)
	case rb == nil && rd == nil, rb != nil && rd != nil && rd.raw == rb.raw:
		return same(ru, rr)
	}
	return false
}

func firstOf(rs ...*resource) *resource {
	for _, r := range rs {
		if r != nil {
			return r
		}
	}
	return nil
}

func nodeOf(r *resource) *yaml.Node {
	if r == nil {
		return nil
	}
	return r.node
}

// covered are a resource's reported conflicts: the whole resource, field
// paths (each covers everything under it), and the line hunks of strings.
type covered struct {
	whole bool
	paths map[string]bool
	hunks map[string][]Conflict // by the string's path
}

func coverage(conflicts []Conflict) map[string]covered {
	out := map[string]covered{}
	for _, c := range conflicts {
		cv := out[c.Resource]
		if cv.paths == nil {
			cv.paths, cv.hunks = map[string]bool{}, map[string][]Conflict{}
		}
		switch p := c.Path; {
		case p == "":
			cv.whole = true
		case strings.Contains(p, " lines ") || strings.Contains(p, " after line "):
			field, _, _ := strings.Cut(p, " ")
			cv.hunks[field] = append(cv.hunks[field], c)
		default:
			cv.paths[p] = true
		}
		out[c.Resource] = cv
	}
	return out
}

// under says whether a conflict covers path: the path itself, or a path
// it lies under (a map key's, or a list's or element's).
func (c covered) under(path []string) bool {
	p := ""
	for i, seg := range path {
		if i > 0 {
			p += "."
		}
		// An element segment is covered by its list's conflict too.
		if list, _, isElement := strings.Cut(seg, "["); isElement && c.paths[p+list] {
			return true
		}
		p += seg
		if c.paths[p] {
			return true
		}
	}
	return false
}

type auditor struct {
	policy  ConflictPolicy
	schemas *schemas
	covered covered
}

func (a *auditor) fail(loc location, format string, args ...any) *AuditError {
	return &AuditError{Path: strings.Join(loc.path, "."), Problem: fmt.Sprintf(format, args...)}
}

// whole audits an object that is merged as one: a resource or a keyed
// list's element. Deleted on one side and changed on the other, it is a
// conflict on the whole object (it stays as the downstream has it), or the
// side the conflict policy prefers, whole; else it is audited field by
// field.
func (a *auditor) whole(loc location, b, u, d, r *yaml.Node) *AuditError {
	b, u, d, r = present(b), present(u), present(d), present(r)
	if b == nil || (u != nil && d != nil) || (u == nil && d == nil) || equal(b, u) || equal(b, d) {
		return a.walk(loc, b, u, d, r)
	}
	want := d
	switch a.policy {
	case PreferUpstream:
		want = u
	case Report:
		if !a.covered.under(loc.path) {
			return a.fail(loc, "deleted on one side and changed on the other, and no conflict is reported")
		}
	}
	if !equal(r, want) {
		return a.fail(loc, "deleted on one side and changed on the other: the result has %s, want %s", oneLine(r), oneLine(want))
	}
	return nil
}

// walk audits one field of base, upstream, downstream and the result.
func (a *auditor) walk(loc location, b, u, d, r *yaml.Node) *AuditError {
	if a.covered.under(loc.path) {
		return nil
	}
	b, u, d, r = present(b), present(u), present(d), present(r)
	// A side that left this whole field as base had it: the result is the
	// other side's, compared at once; only a mismatch is walked, to name
	// the leaf.
	if (equal(u, b) && equal(r, d)) || (equal(d, b) && equal(r, u)) {
		return nil
	}
	if kind, ok := sameKind(b, u, d, r); ok {
		switch kind {
		case yaml.MappingNode:
			return a.mapping(loc, b, u, d, r)
		case yaml.SequenceNode:
			if keys, ok := a.schemas.listKeys(loc, b, u, d); ok {
				if err, ok := a.keyedList(loc, keys, b, u, d, r); ok {
					return err
				}
			}
		}
	}
	return a.leaf(loc, b, u, d, r)
}

// sameKind is the kind every present node has, if they agree.
func sameKind(nodes ...*yaml.Node) (yaml.Kind, bool) {
	var kind yaml.Kind
	for _, n := range nodes {
		switch {
		case n == nil:
		case kind == 0:
			kind = n.Kind
		case n.Kind != kind:
			return 0, false
		}
	}
	return kind, kind != 0
}

func (a *auditor) mapping(loc location, b, u, d, r *yaml.Node) *AuditError {
	idx := []mapIndex{indexMap(b), indexMap(u), indexMap(d), indexMap(r)}
	seen := map[string]bool{}
	for _, n := range []*yaml.Node{d, u, b, r} {
		for i := 0; n != nil && i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if seen[key] {
				continue
			}
			seen[key] = true
			if err := a.walk(loc.child(key), idx[0].get(key), idx[1].get(key), idx[2].get(key), idx[3].get(key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// keyedList audits an associative list element by element; ok is false
// when an input's list cannot be keyed (the merge then took it whole).
func (a *auditor) keyedList(loc location, keys []string, b, u, d, r *yaml.Node) (*AuditError, bool) {
	bk, okb := indexList(b, keys)
	uk, oku := indexList(u, keys)
	dk, okd := indexList(d, keys)
	if !okb || !oku || !okd {
		return nil, false
	}
	rk, okr := indexList(r, keys)
	if !okr {
		for _, e := range r.Content {
			if _, ok := elementKey(present(e), keys); !ok {
				return a.fail(loc, "an element of the list lacks its key %s: %s", strings.Join(keys, ", "), oneLine(e)), true
			}
		}
		return a.fail(loc, "two elements of the list have the same key %s", strings.Join(keys, ", ")), true
	}
	seen := map[string]bool{}
	for _, x := range []listIndex{dk, uk, bk, rk} {
		for _, k := range x.order {
			if seen[k] {
				continue
			}
			seen[k] = true
			if err := a.whole(loc.element(selector(keys, k)), bk.byKey[k], uk.byKey[k], dk.byKey[k], rk.byKey[k]); err != nil {
				return err, true
			}
		}
	}
	return nil, true
}

// leaf audits a value taken whole: base's where neither side changed it,
// the one side's change, the agreed change, or, both changed differently,
// a reported conflict (or the side the conflict policy prefers).
func (a *auditor) leaf(loc location, b, u, d, r *yaml.Node) *AuditError {
	var want *yaml.Node
	switch {
	case equal(u, b):
		want = d
	case equal(d, b):
		want = u
	case equal(u, d):
		want = u
	case isMultiline(b, u, d):
		return a.lines(loc, b, u, d, r)
	case a.policy == PreferUpstream:
		want = u
	case a.policy == PreferDownstream:
		want = d
	default:
		return a.fail(loc, "both sides changed it (base %s, upstream %s, downstream %s) and no conflict is reported; the result has %s", oneLine(b), oneLine(u), oneLine(d), oneLine(r))
	}
	if !equal(r, want) {
		return a.fail(loc, "the result has %s where the merge of base %s, upstream %s and downstream %s is %s", oneLine(r), oneLine(b), oneLine(u), oneLine(d), oneLine(want))
	}
	return nil
}

func isMultiline(nodes ...*yaml.Node) bool {
	text := ""
	for _, n := range nodes {
		if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return false
		}
		text += n.Value
	}
	return strings.Contains(text, "\n")
}

// lines audits a string both sides changed by its lines: for each line,
// the result holds it as often as base did plus what each side added or
// removed (either side's count where both made the same change), but for
// lines of a reported conflicting hunk, where the downstream's stand.
func (a *auditor) lines(loc location, b, u, d, r *yaml.Node) *AuditError {
	if r == nil || r.Kind != yaml.ScalarNode {
		return a.fail(loc, "a string both sides changed is %s in the result", oneLine(r))
	}
	excluded := map[string]bool{}
	for _, h := range a.covered.hunks[strings.Join(loc.path, ".")] {
		for _, text := range []string{h.Base, h.Upstream, h.Downstream} {
			for _, l := range splitLines(text) {
				excluded[strings.TrimSuffix(l, "\n")] = true
			}
		}
	}
	if a.policy != Report && len(excluded) == 0 {
		return nil // a conflicting hunk resolved by policy reports nothing
	}
	count := func(s string) map[string]int {
		out := map[string]int{}
		for _, l := range splitLines(s) {
			out[strings.TrimSuffix(l, "\n")]++
		}
		return out
	}
	cb, cu, cd, cr := count(b.Value), count(u.Value), count(d.Value), count(r.Value)
	var all []string
	for _, m := range []map[string]int{cu, cd, cb, cr} {
		for l := range m {
			all = append(all, l)
		}
	}
	slices.Sort(all)
	for _, l := range slices.Compact(all) {
		if excluded[l] {
			continue
		}
		nb, nu, nd, nr := cb[l], cu[l], cd[l], cr[l]
		want := max(nu+nd-nb, 0)
		if nr == want || nu != nb && nd != nb && (nr == nu || nr == nd) {
			continue
		}
		return a.fail(loc, "line %q is in the result %d time(s); base has it %d, upstream %d, downstream %d", l, nr, nb, nu, nd)
	}
	return nil
}
