// Package merge is forkline's 3-way merge of kpt packages: old upstream
// (base), new upstream and the current downstream, each a map of file path
// to content as Porch's PackageRevisionResources holds them.
//
// Where upstream and downstream did not change the same thing it gives the
// result Porch's resource-merge gives. Where they did, it reports a Conflict
// naming the file, the resource and the field, with all three values,
// instead of silently taking upstream. It never panics on bad input:
// malformed YAML is an error naming the file and line (base and
// upstream's copies of a file upstream did not change are not read: the
// downstream's is the result).
package merge

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Tree is a package: file path -> content.
type Tree map[string]string

// Strategy is how the three trees are combined.
type Strategy string

const (
	// ResourceMerge merges resource by resource and field by field.
	ResourceMerge Strategy = "resource-merge"
	// FastForward takes upstream, and fails if downstream changed anything.
	FastForward Strategy = "fast-forward"
	// ForceDeleteReplace takes upstream, discarding downstream changes.
	ForceDeleteReplace Strategy = "force-delete-replace"
	// CopyMerge copies upstream files over downstream, keeping local-only files.
	CopyMerge Strategy = "copy-merge"
)

// ConflictPolicy is what resource-merge does where both sides changed the
// same thing differently.
type ConflictPolicy string

const (
	// Report keeps the downstream value and reports the conflict.
	Report ConflictPolicy = "Report"
	// PreferUpstream takes upstream's value, as Porch does, and reports nothing.
	PreferUpstream ConflictPolicy = "PreferUpstream"
	// PreferDownstream keeps downstream's value and reports nothing.
	PreferDownstream ConflictPolicy = "PreferDownstream"
)

// Options configure Merge. The zero value is resource-merge reporting
// conflicts.
type Options struct {
	Strategy       Strategy
	ConflictPolicy ConflictPolicy
}

// Absent stands for a value, resource or file that does not exist on one
// side of a conflict.
const Absent = "<absent>"

// Conflict is one place where upstream and downstream changed the same
// thing differently.
type Conflict struct {
	// File is the package file, as in the downstream where it exists there.
	File string `json:"file"`
	// Resource is group/kind/namespace/name ("" for non-KRM files).
	Resource string `json:"resource,omitempty"`
	// Path is the field path, e.g. spec.template.spec.containers[name=app].image;
	// "" for a whole resource; "lines N-M" of base for a non-KRM file.
	Path string `json:"path,omitempty"`
	// Base, Upstream and Downstream are the three values, as one-line YAML,
	// or Absent.
	Base       string `json:"base"`
	Upstream   string `json:"upstream"`
	Downstream string `json:"downstream"`
}

func (c Conflict) String() string {
	where := c.File
	if c.Resource != "" {
		where += " " + c.Resource
	}
	if c.Path != "" {
		where += " " + c.Path
	}
	return fmt.Sprintf("%s: base %s, upstream %s, downstream %s", where, c.Base, c.Upstream, c.Downstream)
}

// Result is the merged package and what could not be merged.
type Result struct {
	Tree      Tree
	Conflicts []Conflict
	// audit is what Audit checks the result against (a resource merge).
	audit *audited
}

// ErrNotFastForward is returned by the fast-forward strategy when the
// downstream changed files since base.
var ErrNotFastForward = errors.New("downstream changed since the upstream it was based on")

// Merge combines base, upstream and downstream. Subpackages of the
// downstream with an upstream of their own are left as they are (kpt's
// rule, see ownPackages), whatever the strategy.
func Merge(base, upstream, downstream Tree, opts Options) (*Result, error) {
	own := ownPackages(downstream)
	if len(own) == 0 {
		return mergePackage(base, upstream, downstream, opts)
	}
	res, err := mergePackage(without(base, own), without(upstream, own), without(downstream, own), opts)
	if err != nil {
		return nil, err
	}
	if res.audit != nil {
		res.audit.own = own
	}
	for fp, content := range downstream {
		if within(fp, own) {
			res.Tree[fp] = content
		}
	}
	return res, nil
}

func mergePackage(base, upstream, downstream Tree, opts Options) (*Result, error) {
	if opts.ConflictPolicy == "" {
		opts.ConflictPolicy = Report
	}
	switch opts.Strategy {
	case "", ResourceMerge:
		return resourceMerge(base, upstream, downstream, opts.ConflictPolicy)
	case FastForward:
		changed, err := changedFiles(base, downstream)
		if err != nil {
			return nil, err
		}
		if len(changed) > 0 {
			return nil, fmt.Errorf("fast-forward: %w: %s", ErrNotFastForward, strings.Join(changed, ", "))
		}
		return &Result{Tree: copyTree(upstream)}, nil
	case ForceDeleteReplace:
		return &Result{Tree: copyTree(upstream)}, nil
	case CopyMerge:
		return copyMerge(base, upstream, downstream)
	default:
		return nil, fmt.Errorf("unknown merge strategy %q", opts.Strategy)
	}
}

// Parse reads a package as Merge does and says how many resources it
// holds: what `make bench` times against kio.ByteReader, the reader kyaml
// offers. Merge keeps each document's text as written, so that documents
// nothing changed stay byte for byte; kio.ByteReader re-encodes them.
func Parse(t Tree) (int, error) {
	p, err := parsePackage(t)
	if err != nil {
		return 0, err
	}
	return len(p.order), nil
}

// changedFiles lists the files downstream added, removed or changed in
// meaning since base (formatting and comments do not count).
func changedFiles(base, downstream Tree) ([]string, error) {
	var changed []string
	for _, path := range unionPaths(base, downstream) {
		b, inBase := base[path]
		d, inDown := downstream[path]
		if inBase != inDown {
			changed = append(changed, path)
			continue
		}
		same, err := SameContent(path, b, d)
		if err != nil {
			return nil, err
		}
		if !same {
			changed = append(changed, path)
		}
	}
	return changed, nil
}

// copyMerge takes every upstream file, keeps files only downstream has, and
// drops files upstream deleted that downstream left as they were.
func copyMerge(base, upstream, downstream Tree) (*Result, error) {
	out := copyTree(upstream)
	for path, d := range downstream {
		if _, ok := upstream[path]; ok {
			continue
		}
		if b, inBase := base[path]; inBase {
			same, err := SameContent(path, b, d)
			if err != nil {
				return nil, err
			}
			if same {
				continue // deleted upstream, untouched downstream
			}
		}
		out[path] = d
	}
	return &Result{Tree: out}, nil
}

func copyTree(t Tree) Tree {
	out := make(Tree, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

func unionPaths(trees ...Tree) []string {
	seen := map[string]struct{}{}
	for _, t := range trees {
		for p := range t {
			seen[p] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
