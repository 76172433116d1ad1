package merge

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// placement is where a merged resource goes and what it is.
type placement struct {
	id   string
	file string
	node *yaml.Node
	head string    // the document's head comment
	from *resource // the side its node and head came from when taken whole
}

func resourceMerge(bt, ut, dt Tree, policy ConflictPolicy) (*Result, error) {
	if untouched := untouchedFiles(bt, ut); len(untouched) > 0 {
		res, err := reducedMerge(bt, ut, dt, untouched, policy)
		if !errors.Is(err, errMergeWhole) {
			return res, err
		}
	}
	return wholeMerge(bt, ut, dt, policy)
}

// wholeMerge is the merge that parses every file of every side.
func wholeMerge(bt, ut, dt Tree, policy ConflictPolicy) (*Result, error) {
	b, err := parseSide("base", bt)
	if err != nil {
		return nil, err
	}
	u, err := parseSide("upstream", ut)
	if err != nil {
		return nil, err
	}
	d, err := parseSide("downstream", dt)
	if err != nil {
		return nil, err
	}
	return mergeParsed(b, u, d, policy, nil)
}

// mergeParsed merges the parsed sides; verbatim are downstream files that
// go into the result as they are, unparsed (see reducedMerge).
func mergeParsed(b, u, d *pkg, policy ConflictPolicy, verbatim Tree) (*Result, error) {
	// A path that is text on any side is merged as text on all sides; so
	// is one that is a map that is not KRM on one side and holds resources
	// on another: both cannot be written into one file and read back.
	textPaths := map[string]bool{}
	mapOnly, holdsKRM := map[string]bool{}, map[string]bool{}
	for _, p := range []*pkg{b, u, d} {
		for fp, f := range p.files {
			switch rs := f.resources(); {
			case f.text:
				textPaths[fp] = true
			case len(rs) == 1 && rs[0].kind == "":
				mapOnly[fp] = true
			case len(rs) > 0:
				holdsKRM[fp] = true
			}
		}
	}
	for fp := range mapOnly {
		if holdsKRM[fp] {
			textPaths[fp] = true
		}
	}
	for _, p := range []*pkg{b, u, d} {
		p.asText(textPaths)
	}

	matchUnidentified(b, u, d)
	keyTwiceHeldByFile(b, u, d)
	m := &merger{policy: policy, schemas: newSchemas(b, u, d)}
	placed := map[string]*placement{}
	var order []*placement
	visit := func(id string) {
		if _, done := placed[id]; done {
			return
		}
		pl := m.resource(id, b.byID[id], u.byID[id], d.byID[id])
		placed[id] = pl
		if pl != nil {
			order = append(order, pl)
		}
	}
	for _, side := range []*pkg{d, u, b} {
		for _, r := range side.order {
			visit(r.id)
		}
	}

	out := Tree{}
	if err := assemble(out, d, placed, order); err != nil {
		return nil, err
	}
	for fp := range textPaths {
		m.text(out, fp, b.files[fp], u.files[fp], d.files[fp])
	}
	for fp, text := range verbatim {
		if _, taken := out[fp]; taken {
			return nil, errMergeWhole
		}
		out[fp] = text
	}
	sort.Slice(m.conflicts, func(i, j int) bool {
		ci, cj := m.conflicts[i], m.conflicts[j]
		if ci.File != cj.File {
			return ci.File < cj.File
		}
		if ci.Resource != cj.Resource {
			return ci.Resource < cj.Resource
		}
		return ci.Path < cj.Path
	})
	return &Result{Tree: out, Conflicts: m.conflicts, audit: &audited{b: b, u: u, d: d, textPaths: textPaths, verbatim: verbatim, policy: policy}}, nil
}

// matchUnidentified gives a file's one map that is not KRM on some side
// (its kind missing or cleared) the identity of the resource the same file
// holds on the other sides, when they agree on one: it is that resource,
// edited, not a second object.
func matchUnidentified(sides ...*pkg) {
	paths := map[string]bool{}
	for _, p := range sides {
		for fp := range p.files {
			paths[fp] = true
		}
	}
	for fp := range paths {
		id, ok := "", true
		var unidentified []*resource
		for _, p := range sides {
			f := p.files[fp]
			if f == nil || f.text {
				continue
			}
			rs := f.resources()
			if len(rs) != 1 {
				ok = false
				break
			}
			switch r := rs[0]; {
			case r.kind == "":
				unidentified = append(unidentified, r)
			case id == "" || id == r.id:
				id = r.id
			default:
				ok = false // the kind or name changed: another object
			}
		}
		if !ok || id == "" || len(unidentified) == 0 {
			continue
		}
		for _, p := range sides {
			for _, r := range unidentified {
				if p.byID[r.id] == r {
					delete(p.byID, r.id)
					r.id = id
					p.byID[id] = r
				}
			}
		}
	}
}

func parseSide(side string, t Tree) (*pkg, error) {
	p, err := parsePackage(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", side, err)
	}
	return p, nil
}

// asText turns the given paths into text files, dropping their resources.
func (p *pkg) asText(paths map[string]bool) {
	changed := false
	for fp := range paths {
		if f, ok := p.files[fp]; ok && !f.text {
			f.text, f.docs = true, nil
			changed = true
		}
	}
	if !changed {
		return
	}
	kept := p.order[:0]
	for _, r := range p.order {
		if paths[r.file] {
			delete(p.byID, r.id)
			continue
		}
		kept = append(kept, r)
	}
	p.order = kept
}

// resource decides one resource: merged, added, kept, deleted, or in
// conflict. It returns nil when the resource is gone from the result.
func (m *merger) resource(id string, rb, ru, rd *resource) *placement {
	switch {
	case rd != nil && ru != nil:
		file := rd.file
		if rb != nil && rb.file == rd.file {
			file = ru.file // moved upstream, not downstream: follow upstream
		}
		loc := location{file: rd.file, res: rd}
		var base *yaml.Node
		if rb != nil {
			base = rb.node
		}
		node := m.merge(loc, base, ru.node, rd.node)
		if node == nil {
			return nil
		}
		bh := ""
		if rb != nil {
			bh = rb.head
		}
		pl := &placement{id: id, file: file, node: node, head: mergeComment(bh, ru.head, rd.head)}
		for _, side := range []*resource{rd, ru} {
			if node == side.node && pl.head == side.head {
				pl.from = side
				break
			}
		}
		return pl
	case rd != nil && rb == nil:
		return &placement{id: id, file: rd.file, node: rd.node, head: rd.head, from: rd} // added downstream
	case rd != nil: // deleted upstream
		if equal(rb.node, rd.node) {
			return nil
		}
		if m.wholeConflict(rd, rb, nil, rd) == nil {
			return nil
		}
		return &placement{id: id, file: rd.file, node: rd.node, head: rd.head, from: rd}
	case ru != nil && rb == nil:
		return &placement{id: id, file: ru.file, node: ru.node, head: ru.head, from: ru} // added upstream
	case ru != nil: // deleted downstream
		if equal(rb.node, ru.node) {
			return nil
		}
		if m.wholeConflict(ru, rb, ru, nil) == nil {
			return nil
		}
		return &placement{id: id, file: ru.file, node: ru.node, head: ru.head, from: ru}
	}
	return nil // deleted on both sides
}

// wholeConflict is a resource deleted on one side and changed on the other.
// It returns the side that stands, or nil for deleted.
func (m *merger) wholeConflict(at, rb, ru, rd *resource) *resource {
	switch m.policy {
	case PreferUpstream:
		return ru
	case PreferDownstream:
		return rd
	}
	show := func(r *resource, what string) string {
		if r == nil {
			return Absent
		}
		return what
	}
	m.conflicts = append(m.conflicts, Conflict{
		File:       at.file,
		Resource:   at.display(),
		Base:       show(rb, "present"),
		Upstream:   show(ru, "changed"),
		Downstream: show(rd, "changed"),
	})
	return rd
}

// assemble writes merged resources into files: downstream's files keep
// their document order (and their exact text where nothing changed); new
// resources follow, in upstream's order.
func assemble(out Tree, d *pkg, placed map[string]*placement, order []*placement) error {
	docs := map[string][]string{}
	verbatim := map[string]bool{}
	emitted := map[string]bool{}

	var dPaths []string
	for fp, f := range d.files {
		if !f.text {
			dPaths = append(dPaths, fp)
		}
	}
	sort.Strings(dPaths)
	for _, fp := range dPaths {
		f := d.files[fp]
		same := true
		var comments []string
		for _, dc := range f.docs {
			if dc.res == nil {
				comments = append(comments, dc.raw)
				continue
			}
			pl := placed[dc.res.id]
			if pl == nil || pl.file != fp {
				same = false
				continue
			}
			text, err := render(pl)
			if err != nil {
				return err
			}
			if pl.from != dc.res {
				same = false
			}
			docs[fp] = append(docs[fp], comments...)
			comments = nil
			docs[fp] = append(docs[fp], text)
			emitted[pl.id] = true
		}
		docs[fp] = append(docs[fp], comments...)
		verbatim[fp] = same
	}
	for _, pl := range order {
		if emitted[pl.id] {
			continue
		}
		text, err := render(pl)
		if err != nil {
			return err
		}
		docs[pl.file] = append(docs[pl.file], text)
		verbatim[pl.file] = false
	}
	for fp, ds := range docs {
		if verbatim[fp] {
			out[fp] = d.files[fp].content
			continue
		}
		if !hasResource(ds) {
			continue // every resource of the file is gone
		}
		out[fp] = joinDocuments(ds)
	}
	return nil
}

func hasResource(docs []string) bool {
	for _, d := range docs {
		for _, line := range strings.Split(d, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				return true
			}
		}
	}
	return false
}

// render is a resource's text: as written when taken whole from one side,
// re-encoded when merged.
func render(pl *placement) (string, error) {
	if pl.from != nil && pl.from.raw != "" {
		return pl.from.raw, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	var doc any = pl.node
	if pl.head != "" {
		doc = &yaml.Node{Kind: yaml.DocumentNode, HeadComment: pl.head, Content: []*yaml.Node{pl.node}}
	}
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("writing merged %s: %w", displayID(pl.id), err)
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func joinDocuments(docs []string) string {
	var sb strings.Builder
	for i, d := range docs {
		if i > 0 {
			sb.WriteString("---\n")
		}
		sb.WriteString(d)
		if !strings.HasSuffix(d, "\n") {
			sb.WriteString("\n")
		}
	}
	return sb.String()
}

// text merges one non-KRM file line by line.
func (m *merger) text(out Tree, fp string, fb, fu, fd *file) {
	content := func(f *file) (string, bool) {
		if f == nil {
			return "", false
		}
		return f.content, true
	}
	b, inB := content(fb)
	u, inU := content(fu)
	d, inD := content(fd)
	switch {
	case inU && inD && u == d, inD && inB && b == u && inU:
		out[fp] = d
	case inD && !inU && !inB:
		out[fp] = d // added downstream
	case inU && !inD && !inB:
		out[fp] = u // added upstream
	case inU && inD: // changed on both sides (or added on both)
		merged, hunks := mergeLines(b, u, d, m.policy, true)
		if len(hunks) > 0 && isYAMLPath(fp) {
			// Markers would make the file invalid YAML and stop the
			// draft rendering: downstream's file stays as it is, and the
			// conflict is reported like a field's.
			merged = d
		}
		out[fp] = merged
		for _, h := range hunks {
			m.conflicts = append(m.conflicts, h.conflict(fp, "", ""))
		}
	case inD && inB && !inU: // deleted upstream
		if d != b {
			if m.policy != PreferUpstream {
				out[fp] = d
			}
			if m.policy == Report {
				m.conflicts = append(m.conflicts, Conflict{File: fp, Base: "present", Upstream: Absent, Downstream: "changed"})
			}
		}
	case inU && inB && !inD: // deleted downstream
		if u != b {
			if m.policy == PreferUpstream {
				out[fp] = u
			}
			if m.policy == Report {
				m.conflicts = append(m.conflicts, Conflict{File: fp, Base: "present", Upstream: "changed", Downstream: Absent})
			}
		}
	}
}

func orAbsent(s string) string {
	if s == "" {
		return Absent
	}
	return strings.TrimSuffix(s, "\n")
}
