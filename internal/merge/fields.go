package merge

import (
	"bytes"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// merger merges resources field by field and collects conflicts.
type merger struct {
	policy    ConflictPolicy
	schemas   *schemas
	conflicts []Conflict
}

// location is where in the package the merge is, for schema lookups and
// conflict reports.
type location struct {
	file   string
	res    *resource
	path   []string // for people: spec, containers[name=app], image
	schema []string // for schemas: spec, containers, [], image
}

func (l location) child(key string) location {
	return location{
		file:   l.file,
		res:    l.res,
		path:   append(l.path[:len(l.path):len(l.path)], key),
		schema: append(l.schema[:len(l.schema):len(l.schema)], key),
	}
}

func (l location) element(selector string) location {
	last := len(l.path) - 1
	path := slices.Concat(l.path[:last], []string{l.path[last] + selector})
	return location{file: l.file, res: l.res, path: path, schema: slices.Concat(l.schema, []string{"[]"})}
}

// merge returns the merged value of one field (nil: absent). It returns d
// itself when downstream's value stands unchanged, so untouched parts keep
// their comments and formatting.
func (m *merger) merge(loc location, b, u, d *yaml.Node) *yaml.Node {
	if present(b) == nil && (isNull(u) && present(d) != nil || isNull(d) && present(u) != nil) {
		// An explicit null clears a field; one side clearing what the
		// other just added is a conflict, not a silent choice.
		return m.conflict(loc, nil, u, d)
	}
	b, u, d = present(b), present(u), present(d)
	switch {
	case identical(b, u), identical(u, d):
		return d // upstream changed nothing here, not even a comment
	case identical(b, d):
		return u // nor did the downstream
	}
	// Both sides changed something here, values or comments: maps and
	// keyed lists merge by key, so each side's comments inside survive.
	if u != nil && d != nil && u.Kind == d.Kind && (b == nil || b.Kind == u.Kind) {
		switch u.Kind {
		case yaml.MappingNode:
			return withComments(m.mapping(loc, b, u, d), b, u, d)
		case yaml.SequenceNode:
			if keys, ok := m.schemas.listKeys(loc, b, u, d); ok {
				if merged, ok := m.keyedList(loc, keys, b, u, d); ok {
					return withComments(merged, b, u, d)
				}
			}
		}
	}
	switch {
	case equal(u, d), equal(b, u):
		return withComments(d, b, u, d)
	case equal(b, d):
		return withComments(u, b, u, d)
	}
	// Both sides changed the value, differently.
	if merged, ok := m.multiline(loc, b, u, d); ok {
		return merged
	}
	if deletedMap(b, u, d) {
		// One side deleted a map the other edited inside: key by key, as
		// kyaml does: a conflict only on a key the other side changed.
		merged := m.mapping(loc, b, orEmptyMap(u), orEmptyMap(d))
		if len(merged.Content) == 0 && (d == nil || len(d.Content) > 0) {
			return nil // gone, unless the downstream emptied it on purpose
		}
		return merged
	}
	return m.conflict(loc, b, u, d)
}

// multiline merges a string both sides changed line by line when it spans
// lines (a script, an embedded config file), hunk by hunk as diff3 does: a
// conflict only where both changed the same lines, one per such range,
// which keeps downstream's lines; every other hunk of either side is
// applied. It declines (ok false) for anything else.
func (m *merger) multiline(loc location, b, u, d *yaml.Node) (*yaml.Node, bool) {
	isStr := func(n *yaml.Node) bool { return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" }
	if !isStr(b) || !isStr(u) || !isStr(d) || !strings.Contains(b.Value+u.Value+d.Value, "\n") {
		return nil, false
	}
	// Every hunk only one side changed is applied, also around a
	// conflicting one, which keeps downstream's lines until a person
	// decides.
	merged, hunks := mergeLines(b.Value, u.Value, d.Value, m.policy, false)
	for _, h := range hunks {
		m.conflicts = append(m.conflicts, h.conflict(loc.file, loc.res.display(), strings.Join(loc.path, ".")+" "))
	}
	out := *d
	out.Value = merged
	return &out, true
}

// deletedMap says whether one side deleted a map of base that the other
// kept as a map.
func deletedMap(b, u, d *yaml.Node) bool {
	isMap := func(n *yaml.Node) bool { return n != nil && n.Kind == yaml.MappingNode }
	return isMap(b) && ((u == nil && isMap(d)) || (d == nil && isMap(u)))
}

// orEmptyMap is n, or an empty block map for a deleted one.
func orEmptyMap(n *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
}

func (m *merger) conflict(loc location, b, u, d *yaml.Node) *yaml.Node {
	switch m.policy {
	case PreferUpstream:
		return u
	case PreferDownstream:
		return d
	}
	m.conflicts = append(m.conflicts, Conflict{
		File:       loc.file,
		Resource:   loc.res.display(),
		Path:       strings.Join(loc.path, "."),
		Base:       oneLine(b),
		Upstream:   oneLine(u),
		Downstream: oneLine(d),
	})
	return d
}

// mapping merges maps key by key: downstream's keys in downstream's order,
// then keys upstream added.
func (m *merger) mapping(loc location, b, u, d *yaml.Node) *yaml.Node {
	bi, ui, di := indexMap(b), indexMap(u), indexMap(d)
	out := *d
	out.Content = make([]*yaml.Node, 0, len(d.Content)+2)
	changed := false
	for i := 0; i+1 < len(d.Content); i += 2 {
		key, dv := d.Content[i], d.Content[i+1]
		mv := m.merge(loc.child(key.Value), bi.get(key.Value), ui.get(key.Value), dv)
		// A key carries the comment above its entry.
		if mk := withComments(key, bi.key(key.Value), ui.key(key.Value), key); mk != key {
			key, changed = mk, true
		}
		if mv != dv {
			changed = true
		}
		if mv != nil {
			out.Content = append(out.Content, key, mv)
		}
	}
	for i := 0; u != nil && i+1 < len(u.Content); i += 2 {
		key := u.Content[i]
		if di.has(key.Value) {
			continue
		}
		if mv := m.merge(loc.child(key.Value), bi.get(key.Value), u.Content[i+1], nil); mv != nil {
			out.Content = append(out.Content, key, mv)
			changed = true
		}
	}
	if !changed {
		return d
	}
	return &out
}

// keyedList merges an associative list element by element. It declines
// (ok false) when an element lacks its key or a key repeats, and the list
// is then merged as a whole.
func (m *merger) keyedList(loc location, keys []string, b, u, d *yaml.Node) (*yaml.Node, bool) {
	bk, okb := indexList(b, keys)
	uk, oku := indexList(u, keys)
	dk, okd := indexList(d, keys)
	if !okb || !oku || !okd {
		return nil, false
	}
	out := *d
	out.Content = make([]*yaml.Node, 0, len(d.Content)+2)
	changed := false
	for i, dv := range d.Content {
		k := dk.order[i]
		el := loc.element(selector(keys, k))
		var mv *yaml.Node
		if bv := bk.byKey[k]; bv != nil && uk.byKey[k] == nil && !equal(bv, dv) {
			// Upstream deleted an element the downstream changed: one
			// modify/delete conflict on the element, which stays whole
			// (key included) until a person decides. Merged key by key,
			// its key would read as deleted.
			mv = m.conflict(el, bv, nil, dv)
		} else {
			mv = m.merge(el, bv, uk.byKey[k], dv)
		}
		if mv != dv {
			changed = true
		}
		if mv != nil {
			out.Content = append(out.Content, mv)
		}
	}
	for i, uv := range u.Content {
		k := uk.order[i]
		if _, inD := dk.byKey[k]; inD {
			continue
		}
		el := loc.element(selector(keys, k))
		if bv := bk.byKey[k]; bv != nil && !equal(bv, uv) {
			// The downstream deleted an element upstream changed: the
			// same conflict, the other way; the deletion stands until a
			// person decides.
			if mv := m.conflict(el, bv, uv, nil); mv != nil {
				out.Content = append(out.Content, mv)
				changed = true
			}
			continue
		}
		if mv := m.merge(el, bk.byKey[k], uv, nil); mv != nil {
			out.Content = append(out.Content, mv)
			changed = true
		}
	}
	if !changed {
		return d, true
	}
	return &out, true
}

type listIndex struct {
	order []string
	byKey map[string]*yaml.Node
}

// indexList keys each element by its key fields (or, with no keys, by its
// scalar value: a set of primitives such as finalizers).
func indexList(n *yaml.Node, keys []string) (listIndex, bool) {
	idx := listIndex{byKey: map[string]*yaml.Node{}}
	if n == nil {
		return idx, true
	}
	for _, e := range n.Content {
		k, ok := elementKey(present(e), keys)
		if !ok {
			return idx, false
		}
		if _, dup := idx.byKey[k]; dup {
			return idx, false
		}
		idx.byKey[k] = e
		idx.order = append(idx.order, k)
	}
	return idx, true
}

func elementKey(e *yaml.Node, keys []string) (string, bool) {
	if e == nil {
		return "", false
	}
	if len(keys) == 0 {
		if e.Kind != yaml.ScalarNode {
			return "", false
		}
		return e.Value, true
	}
	if e.Kind != yaml.MappingNode {
		return "", false
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := field(e, k)
		if v == nil || v.Kind != yaml.ScalarNode {
			if i == 0 {
				return "", false // the primary key is required
			}
			continue
		}
		parts[i] = v.Value
	}
	return strings.Join(parts, "\x00"), true
}

func selector(keys []string, key string) string {
	parts := strings.Split(key, "\x00")
	if len(keys) == 0 {
		return "[=" + key + "]"
	}
	var sel []string
	for i, k := range keys {
		if parts[i] != "" || i == 0 {
			sel = append(sel, k+"="+parts[i])
		}
	}
	return "[" + strings.Join(sel, ",") + "]"
}

// mapIndex finds keys of a mapping; small maps are scanned, big ones hashed.
type mapIndex struct {
	n   *yaml.Node
	big map[string]int // key -> index of the key node in n.Content
}

func indexMap(n *yaml.Node) mapIndex {
	idx := mapIndex{n: n}
	if n != nil && len(n.Content) > 32 {
		idx.big = make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			idx.big[n.Content[i].Value] = i
		}
	}
	return idx
}

// key is the key node of key, or nil.
func (x mapIndex) key(key string) *yaml.Node {
	if x.big != nil {
		if i, ok := x.big[key]; ok {
			return x.n.Content[i]
		}
		return nil
	}
	k, _ := fieldKV(x.n, key)
	return k
}

func (x mapIndex) get(key string) *yaml.Node {
	if x.big != nil {
		if i, ok := x.big[key]; ok {
			return x.n.Content[i+1]
		}
		return nil
	}
	return field(x.n, key)
}

func (x mapIndex) has(key string) bool {
	if x.big != nil {
		_, ok := x.big[key]
		return ok
	}
	k, _ := fieldKV(x.n, key)
	return k != nil
}

// isNull says whether n is an explicit null.
func isNull(n *yaml.Node) bool {
	n = dealias(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func dealias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// present resolves aliases and treats an explicit null as absent: in
// Kubernetes, and in Porch's merge, "field: null" clears the field.
func present(n *yaml.Node) *yaml.Node {
	if isNull(n) {
		return nil
	}
	return dealias(n)
}

// equal compares meaning: comments, styles and key order aside.
func equal(a, b *yaml.Node) bool {
	a, b = present(a), present(b)
	if a == nil || b == nil {
		return a == b
	}
	if a == b {
		return true
	}
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case yaml.ScalarNode:
		if a.Value != b.Value {
			return false
		}
		return a.Tag == b.Tag || a.ShortTag() == b.ShortTag()
	case yaml.SequenceNode:
		if len(a.Content) != len(b.Content) {
			return false
		}
		for i := range a.Content {
			if !equal(a.Content[i], b.Content[i]) {
				return false
			}
		}
		return true
	case yaml.MappingNode:
		if same, decided := samePairs(a, b); decided {
			return same
		}
		bi := indexMap(b)
		na, nb := 0, 0
		for i := 0; i+1 < len(a.Content); i += 2 {
			if present(a.Content[i+1]) == nil {
				continue
			}
			na++
			if !equal(a.Content[i+1], bi.get(a.Content[i].Value)) {
				return false
			}
		}
		for i := 0; i+1 < len(b.Content); i += 2 {
			if present(b.Content[i+1]) != nil {
				nb++
			}
		}
		return na == nb
	}
	return false
}

// samePairs compares maps whose keys are written in the same order, the
// common case, pair by pair; decided is false when the keys differ in
// number or order, for a comparison by key. (It also settles maps with
// repeated keys, which a key lookup cannot.) Once the keys line up, a
// value that differs decides: comparing by key would compare the same
// pairs again.
func samePairs(a, b *yaml.Node) (same, decided bool) {
	if len(a.Content) != len(b.Content) {
		return false, false
	}
	for i := 0; i+1 < len(a.Content); i += 2 {
		if a.Content[i].Value != b.Content[i].Value {
			return false, false
		}
	}
	for i := 0; i+1 < len(a.Content); i += 2 {
		if !equal(a.Content[i+1], b.Content[i+1]) {
			return false, true
		}
	}
	return true, true
}

// oneLine renders a value for a conflict report.
func oneLine(n *yaml.Node) string {
	if isNull(n) {
		return "null" // cleared on purpose, not just absent
	}
	n = present(n)
	if n == nil {
		return Absent
	}
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	flow := flowCopy(n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(flow); err != nil {
		return "<unprintable: " + err.Error() + ">"
	}
	s := strings.TrimSpace(buf.String())
	if len(s) > 240 {
		s = s[:237] + "..."
	}
	return s
}

func flowCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Style |= yaml.FlowStyle
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			c.Content[i] = flowCopy(child)
		}
	}
	return &c
}
