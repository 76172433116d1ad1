package merge

import (
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ownPackages lists the subdirectories of the downstream that are packages
// of their own: their Kptfile names an upstream. kpt updates such a
// package from its own upstream, never as part of its parent's, so the
// parent's merge leaves it as the downstream has it. A subpackage without
// an upstream is part of its parent and merges with it.
func ownPackages(downstream Tree) []string {
	var dirs []string
	for fp, content := range downstream {
		if path.Base(fp) != "Kptfile" || fp == "Kptfile" {
			continue
		}
		kf, err := yaml.Parse(content)
		if err != nil {
			continue // the parent's merge reports a malformed Kptfile
		}
		if up, err := kf.Pipe(yaml.Lookup("upstream")); err == nil && up != nil {
			dirs = append(dirs, path.Dir(fp)+"/")
		}
	}
	sort.Strings(dirs)
	return dirs
}

// within says whether fp is inside one of dirs.
func within(fp string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(fp, d) {
			return true
		}
	}
	return false
}

// without is t less the files inside dirs.
func without(t Tree, dirs []string) Tree {
	out := make(Tree, len(t))
	for fp, content := range t {
		if !within(fp, dirs) {
			out[fp] = content
		}
	}
	return out
}
