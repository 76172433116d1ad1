// Package changes tells what a proposal changes against the downstream's
// last published revision, file by file and resource by resource, down to
// the field paths, and where each change came from: upstream's own change
// between the two releases, a person's push to the draft, or else the
// variant's steps and injection. forkline records its counts in
// status.sync.changes; kubectl forkline diff prints all of it.
package changes

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/forkline/forkline/internal/merge"
)

// Kind is what happened to a file, a resource or a field.
type Kind string

// The kinds of change.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// Origin is who made a change.
type Origin string

const (
	// Upstream is the upstream package changing it between the two
	// releases.
	Upstream Origin = "upstream"
	// Person is a person pushing it to the draft.
	Person Origin = "person"
	// Steps is neither: the variant's steps, injection or package context
	// (forkline's own writes on top of upstream's content).
	Steps Origin = "steps"
)

// Inputs are what a change is compared and attributed against.
type Inputs struct {
	// Published is the downstream's last published revision (nil before
	// the first).
	Published map[string]string
	// Proposed is the draft or proposal.
	Proposed map[string]string
	// UpstreamFrom and UpstreamTo are the upstream package at the release
	// the downstream is on (nil on a first sync) and at the one proposed.
	UpstreamFrom, UpstreamTo map[string]string
	// PersonFiles are the files a person changed in the draft.
	PersonFiles []string
}

// File is one file's change.
type File struct {
	Name   string
	Kind   Kind
	Origin Origin
	// Diff is the unified diff, a/ published and b/ proposed.
	Diff string
}

// Field is one changed leaf of a resource.
type Field struct {
	Path   string
	Kind   Kind
	Origin Origin
}

// Resource is one resource's change: its identity, what happened, the
// fields that changed (for a changed resource) and every origin.
type Resource struct {
	File    string
	ID      string // group/Kind/namespace/name, as forkline's conflicts name it
	Kind    Kind
	Fields  []Field
	Origins []Origin
}

// Report is everything a proposal changes.
type Report struct {
	Files     []File
	Resources []Resource
}

// Compare tells what in.Proposed changes against in.Published.
func Compare(in Inputs) (Report, error) {
	var rep Report
	person := map[string]bool{}
	for _, f := range in.PersonFiles {
		person[f] = true
	}
	fileOrigin := func(name string) Origin {
		switch {
		case in.UpstreamFrom[name] != in.UpstreamTo[name] && in.Proposed[name] == in.UpstreamTo[name]:
			return Upstream
		case person[name]:
			return Person
		case in.UpstreamFrom[name] != in.UpstreamTo[name]:
			return Upstream
		}
		return Steps
	}
	for _, name := range union(in.Published, in.Proposed) {
		before, had := in.Published[name]
		after, has := in.Proposed[name]
		if before == after && had == has {
			continue
		}
		f := File{Name: name, Kind: kindOf(had, has), Origin: fileOrigin(name)}
		diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: lines(before), B: lines(after),
			FromFile: "a/" + name, ToFile: "b/" + name, Context: 3,
		})
		if err != nil {
			return rep, err
		}
		f.Diff = diff
		rep.Files = append(rep.Files, f)
	}

	// Only files that differ hold resources that do (a resource that moved
	// differs in both its files): a big package whose release touched a
	// few files is parsed a few files deep.
	differs := func(a, b map[string]string) func(string) bool {
		return func(name string) bool { va, oka := a[name]; vb, okb := b[name]; return va != vb || oka != okb }
	}
	downDiffers, upDiffers := differs(in.Published, in.Proposed), differs(in.UpstreamFrom, in.UpstreamTo)
	memo := map[string]map[string]map[string]string{}
	was, is := resources(in.Published, downDiffers, memo), resources(in.Proposed, downDiffers, memo)
	upFrom, upTo := resources(in.UpstreamFrom, upDiffers, memo), resources(in.UpstreamTo, upDiffers, memo)
	for _, id := range union(was, is) {
		before, after := was[id], is[id]
		res := Resource{ID: id}
		switch {
		case before == nil:
			res.File, res.Kind = after.file, Added
		case after == nil:
			res.File, res.Kind = before.file, Removed
		default:
			res.File, res.Kind = after.file, Changed
		}
		origin := func(path string) Origin {
			u0, u1 := upFrom[id], upTo[id]
			upChanged := (u0 == nil) != (u1 == nil)
			if !upChanged && u0 != nil {
				if path == "" {
					upChanged = !maps.Equal(u0.leaves, u1.leaves)
				} else {
					upChanged = leafChanged(u0.leaves, u1.leaves, path)
				}
			}
			switch {
			case upChanged, lockMoved(id, path):
				return Upstream
			case person[res.File]:
				return Person
			}
			return Steps
		}
		if res.Kind == Changed {
			for _, path := range union(before.leaves, after.leaves) {
				b, hadLeaf := before.leaves[path]
				a, hasLeaf := after.leaves[path]
				if b == a && hadLeaf == hasLeaf {
					continue
				}
				res.Fields = append(res.Fields, Field{Path: path, Kind: kindOf(hadLeaf, hasLeaf), Origin: origin(path)})
			}
			if len(res.Fields) == 0 {
				continue // the same resource, written otherwise (comments, order)
			}
		} else {
			res.Origins = []Origin{origin("")}
		}
		for _, f := range res.Fields {
			if !slices.Contains(res.Origins, f.Origin) {
				res.Origins = append(res.Origins, f.Origin)
			}
		}
		slices.Sort(res.Origins)
		rep.Resources = append(rep.Resources, res)
	}
	return rep, nil
}

// Counts are a report's totals.
type Counts struct {
	FilesAdded, FilesRemoved, FilesChanged             int
	ResourcesAdded, ResourcesRemoved, ResourcesChanged int
	// ByOrigin counts the resources each origin changed (a resource two
	// origins changed counts for both).
	ByOrigin map[Origin]int
}

// Counts totals the report.
func (r Report) Counts() Counts {
	c := Counts{ByOrigin: map[Origin]int{}}
	for _, f := range r.Files {
		switch f.Kind {
		case Added:
			c.FilesAdded++
		case Removed:
			c.FilesRemoved++
		default:
			c.FilesChanged++
		}
	}
	for _, res := range r.Resources {
		switch res.Kind {
		case Added:
			c.ResourcesAdded++
		case Removed:
			c.ResourcesRemoved++
		default:
			c.ResourcesChanged++
		}
		for _, o := range res.Origins {
			c.ByOrigin[o]++
		}
	}
	return c
}

// Summary is the counts in one line, e.g. "3 resources changed (upstream
// 2, steps 1)"; "no change" when nothing differs.
func (c Counts) Summary() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(c.ResourcesAdded, "added")
	add(c.ResourcesRemoved, "removed")
	add(c.ResourcesChanged, "changed")
	var line string
	switch n := c.ResourcesAdded + c.ResourcesRemoved + c.ResourcesChanged; {
	case n > 0:
		noun := "resources"
		if n == 1 {
			noun = "resource"
		}
		line = fmt.Sprintf("%d %s: %s", n, noun, strings.Join(parts, ", "))
		if len(parts) == 1 {
			line = fmt.Sprintf("%d %s %s", n, noun, strings.TrimPrefix(parts[0], fmt.Sprint(n)+" "))
		}
	case c.FilesAdded+c.FilesRemoved+c.FilesChanged > 0:
		line = fmt.Sprintf("%d files changed, no resource", c.FilesAdded+c.FilesRemoved+c.FilesChanged)
	default:
		return "no change"
	}
	var by []string
	for _, o := range []Origin{Upstream, Steps, Person} {
		if n := c.ByOrigin[o]; n > 0 {
			by = append(by, fmt.Sprintf("%s %d", o, n))
		}
	}
	if len(by) > 0 {
		line += " (" + strings.Join(by, ", ") + ")"
	}
	return line
}

// lines splits content into lines that keep their "\n", as the diff
// wants them (difflib.SplitLines adds an empty last line).
func lines(content string) []string {
	out := strings.SplitAfter(content, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func kindOf(had, has bool) Kind {
	switch {
	case !had:
		return Added
	case !has:
		return Removed
	}
	return Changed
}

// lockMoved says whether path is the Kptfile's record of which upstream
// release the package is on: it moves with upstream's release, whoever
// writes it.
func lockMoved(id, path string) bool {
	return strings.HasPrefix(id, "kpt.dev/Kptfile/") && (strings.HasPrefix(path, "upstream.") || strings.HasPrefix(path, "upstreamLock."))
}

// leafChanged says whether path, or anything under or above it, differs
// between a and b.
func leafChanged(a, b map[string]string, path string) bool {
	for _, m := range []map[string]string{a, b} {
		for p := range m {
			if p != path && !under(p, path) && !under(path, p) {
				continue
			}
			va, oka := a[p]
			vb, okb := b[p]
			if va != vb || oka != okb {
				return true
			}
		}
	}
	return false
}

func under(p, parent string) bool {
	return strings.HasPrefix(p, parent+".") || strings.HasPrefix(p, parent+"[")
}

type resource struct {
	file   string
	leaves map[string]string
}

// resources are the KRM resources of a package's files only accepts, by
// identity, flattened to their leaves. A file that is not KRM holds none.
// Files of the same content (a clone's proposal is upstream's release)
// are parsed once per Compare: memo holds them by content.
func resources(files map[string]string, only func(name string) bool, memo map[string]map[string]map[string]string) map[string]*resource {
	out := map[string]*resource{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !only(name) || !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") && name != "Kptfile" {
			continue
		}
		content := files[name]
		byID, seen := memo[content]
		if !seen {
			byID = parseResources(content)
			memo[content] = byID
		}
		for id, leaves := range byID {
			out[id] = &resource{file: name, leaves: leaves}
		}
	}
	return out
}

// parseResources flattens each KRM resource of one file; none for a file
// that does not parse as YAML (the file's diff tells it).
func parseResources(content string) map[string]map[string]string {
	out := map[string]map[string]string{}
	dec := yaml.NewDecoder(strings.NewReader(content))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if !errors.Is(err, io.EOF) {
				return map[string]map[string]string{}
			}
			return out
		}
		id, _, ok := merge.ResourceID(&doc)
		if !ok {
			continue
		}
		leaves := map[string]string{}
		flatten(&doc, "", leaves)
		out[id] = leaves
	}
}

// flatten records each leaf of n under its path, as forkline's conflicts
// write paths: keys joined by ".", a list element by its name
// (containers[name=app]) or else its index.
func flatten(n *yaml.Node, path string, out map[string]string) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			out[path] = "{}"
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			child := n.Content[i].Value
			if path != "" {
				child = path + "." + child
			}
			flatten(n.Content[i+1], child, out)
		}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			out[path] = "[]"
		}
		for i, el := range n.Content {
			sel := fmt.Sprintf("[%d]", i)
			if el.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(el.Content); j += 2 {
					if el.Content[j].Value == "name" && el.Content[j+1].Kind == yaml.ScalarNode {
						sel = "[name=" + el.Content[j+1].Value + "]"
					}
				}
			}
			flatten(el, path+sel, out)
		}
	default:
		out[path] = n.Value
	}
}

func union[V any](ms ...map[string]V) []string {
	seen := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			seen[k] = true
		}
	}
	return slices.SortedFunc(maps.Keys(seen), cmp.Compare[string])
}
