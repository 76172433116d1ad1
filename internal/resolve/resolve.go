// Package resolve writes a person's decision on a draft's conflicts into
// its files: take upstream's, the base's or the downstream's value for
// the entries chosen, or set a value of their own, and mark those entries
// resolved in forkline-conflicts.yaml. It is what a person does by hand
// after porchctl rpkg pull, done exactly: only the conflicted field, the
// resource or, for a file merged by lines, the file changes.
package resolve

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/porch"
)

// Side is whose value a resolution takes.
type Side string

// The sides: the release proposed, the branch, the release it is on.
const (
	Upstream   Side = "upstream"
	Downstream Side = "downstream"
	Base       Side = "base"
)

// Request is one resolution: take a side for the entries Paths select
// (all unresolved entries when empty), or Set values of one's own, by
// entry.
type Request struct {
	Take  Side
	Paths []string
	// Set maps an entry's selector to a YAML value.
	Set map[string]string
}

// Entries reads the draft's conflicts file; nil when it has none.
func Entries(files map[string]string) (*porch.ConflictsDoc, error) {
	content, ok := files[porch.ConflictsFile]
	if !ok {
		return nil, nil
	}
	var doc porch.ConflictsDoc
	if err := sigsyaml.Unmarshal([]byte(content), &doc); err != nil {
		return nil, fmt.Errorf("reading %s: %w", porch.ConflictsFile, err)
	}
	return &doc, nil
}

// Selector is how a person names an entry: file:path for a field (or a
// file's lines), file:resource for a whole resource, file for a file.
func Selector(c merge.Conflict) string {
	switch {
	case c.Path != "":
		return c.File + ":" + c.Path
	case c.Resource != "":
		return c.File + ":" + c.Resource
	}
	return c.File
}

// matches says whether sel names entry c: its selector, its path alone,
// its resource, or its file (every entry of the file).
func matches(sel string, c merge.Conflict) bool {
	return sel == Selector(c) || (c.Path != "" && sel == c.Path) || (c.Resource != "" && sel == c.Resource) || sel == c.File
}

// Result is what Apply did.
type Result struct {
	Files    map[string]string
	Resolved []string // selectors of the entries resolved now
	Left     []string // selectors of the entries still unresolved
}

// Apply resolves the entries req names in draft, with sides holding the
// upstream release proposed (Upstream) and the one the branch is on (Base).
func Apply(draft map[string]string, sides map[Side]map[string]string, req Request) (Result, error) {
	res := Result{Files: maps.Clone(draft)}
	doc, err := Entries(draft)
	if err != nil {
		return res, err
	}
	if doc == nil {
		return res, fmt.Errorf("the draft has no %s: there is nothing to resolve", porch.ConflictsFile)
	}
	chosen := map[int]string{} // entry index -> the value source
	if len(req.Set) > 0 {
		for _, sel := range slices.Sorted(maps.Keys(req.Set)) {
			i, err := only(doc, sel)
			if err != nil {
				return res, err
			}
			chosen[i] = "set"
		}
	} else {
		for i, e := range doc.Spec.Conflicts {
			if e.Resolved {
				continue
			}
			if len(req.Paths) == 0 || slices.ContainsFunc(req.Paths, func(p string) bool { return matches(p, e.Conflict) }) {
				chosen[i] = string(req.Take)
			}
		}
		for _, p := range req.Paths {
			if !slices.ContainsFunc(doc.Spec.Conflicts, func(e porch.ConflictEntry) bool { return matches(p, e.Conflict) }) {
				return res, fmt.Errorf("no conflict is %q; the draft's are: %s", p, strings.Join(selectors(doc), ", "))
			}
		}
		if len(chosen) == 0 {
			return res, fmt.Errorf("no unresolved conflict is selected")
		}
	}
	if req.Take != Downstream || len(req.Set) > 0 {
		if sides[req.Take] == nil && len(req.Set) == 0 {
			return res, fmt.Errorf("the %s side is not there to take from (a first sync has no base)", req.Take)
		}
	}
	for _, i := range slices.Sorted(maps.Keys(chosen)) {
		c := doc.Spec.Conflicts[i].Conflict
		var err error
		switch {
		case len(req.Set) > 0:
			var v yaml.Node
			if err := yaml.Unmarshal([]byte(req.Set[findSel(req.Set, c)]), &v); err != nil {
				return res, fmt.Errorf("the value for %s is not YAML: %w", Selector(c), err)
			}
			val := &v
			if v.Kind == yaml.DocumentNode && len(v.Content) > 0 {
				val = v.Content[0]
			}
			err = setField(res.Files, c, val)
		case req.Take == Downstream:
			// The draft keeps the downstream value already.
		default:
			err = take(res.Files, sides[req.Take], c)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", Selector(c), err)
		}
		doc.Spec.Conflicts[i].Resolved = true
		res.Resolved = append(res.Resolved, Selector(c))
	}
	for _, e := range doc.Spec.Conflicts {
		if !e.Resolved {
			res.Left = append(res.Left, Selector(e.Conflict))
		}
	}
	b, err := sigsyaml.Marshal(doc)
	if err != nil {
		return res, err
	}
	res.Files[porch.ConflictsFile] = string(b)
	return res, nil
}

func only(doc *porch.ConflictsDoc, sel string) (int, error) {
	found := -1
	for i, e := range doc.Spec.Conflicts {
		if sel == Selector(e.Conflict) || (e.Path != "" && sel == e.Path) {
			if found >= 0 {
				return 0, fmt.Errorf("%q names more than one conflict: say file:path", sel)
			}
			found = i
		}
	}
	if found < 0 {
		return 0, fmt.Errorf("no conflict is %q; the draft's are: %s", sel, strings.Join(selectors(doc), ", "))
	}
	if doc.Spec.Conflicts[found].Path == "" || doc.Spec.Conflicts[found].Resource == "" || strings.HasPrefix(doc.Spec.Conflicts[found].Path, "lines ") {
		return 0, fmt.Errorf("--set takes a field's value; %q is a whole resource or file: use --take, or pull and edit it", sel)
	}
	return found, nil
}

func findSel(set map[string]string, c merge.Conflict) string {
	for sel := range set {
		if sel == Selector(c) || sel == c.Path {
			return sel
		}
	}
	return ""
}

func selectors(doc *porch.ConflictsDoc) []string {
	var out []string
	for _, e := range doc.Spec.Conflicts {
		out = append(out, Selector(e.Conflict))
	}
	return out
}

// take writes side's version of what conflict c names into files.
func take(files, side map[string]string, c merge.Conflict) error {
	if c.Resource == "" {
		// A file merged by lines: the side's whole file.
		if content, ok := side[c.File]; ok {
			files[c.File] = content
		} else {
			delete(files, c.File)
		}
		return nil
	}
	from := find(side, c.Resource)
	if c.Path == "" {
		return setResource(files, c, from)
	}
	var val *yaml.Node
	if from != nil {
		var err error
		if val, err = lookup(from, c.Path); err != nil {
			return err
		}
	}
	return setField(files, c, val)
}

// setResource replaces (or, for nil, removes) the resource c names.
func setResource(files map[string]string, c merge.Conflict, with *yaml.Node) error {
	nodes, err := read(files[c.File])
	if err != nil {
		return err
	}
	i := index(nodes, c.Resource)
	switch {
	case i < 0 && with != nil:
		nodes = append(nodes, yaml.NewRNode(with))
	case i >= 0 && with == nil:
		nodes = slices.Delete(nodes, i, i+1)
	case i >= 0:
		nodes[i] = yaml.NewRNode(with)
	}
	return write(files, c.File, nodes)
}

// setField sets (or, for nil, removes) the field c names.
func setField(files map[string]string, c merge.Conflict, val *yaml.Node) error {
	nodes, err := read(files[c.File])
	if err != nil {
		return err
	}
	i := index(nodes, c.Resource)
	if i < 0 {
		return fmt.Errorf("the draft's %s holds no %s", c.File, c.Resource)
	}
	if err := set(nodes[i].YNode(), c.Path, val); err != nil {
		return err
	}
	return write(files, c.File, nodes)
}

func read(content string) ([]*yaml.RNode, error) {
	return (&kio.ByteReader{Reader: strings.NewReader(content), OmitReaderAnnotations: true}).Read()
}

func write(files map[string]string, name string, nodes []*yaml.RNode) error {
	if len(nodes) == 0 {
		delete(files, name)
		return nil
	}
	var buf bytes.Buffer
	if err := (kio.ByteWriter{Writer: &buf}).Write(nodes); err != nil {
		return err
	}
	files[name] = buf.String()
	return nil
}

func index(nodes []*yaml.RNode, id string) int {
	for i, n := range nodes {
		if shown, _, ok := merge.ResourceID(n.YNode()); ok && sameID(shown, id) {
			return i
		}
	}
	return -1
}

// find is the resource id in any of files (nil when none holds it).
func find(files map[string]string, id string) *yaml.Node {
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") && name != "Kptfile" {
			continue
		}
		nodes, err := read(files[name])
		if err != nil {
			continue
		}
		if i := index(nodes, id); i >= 0 {
			return nodes[i].YNode()
		}
	}
	return nil
}

// sameID compares identities as the merge matches them: a namespace a
// side left out is default (or, for a kind kpt could not scope, ~C).
func sameID(a, b string) bool {
	norm := func(id string) string {
		parts := strings.Split(id, "/")
		if len(parts) == 4 && (parts[2] == "default" || parts[2] == "~C") {
			parts[2] = ""
		}
		return strings.Join(parts, "/")
	}
	return norm(a) == norm(b)
}
