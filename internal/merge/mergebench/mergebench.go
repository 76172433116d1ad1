// Package mergebench generates kpt packages of any size for measuring the
// merge engine, and runs the same merge through kyaml's merge3 (what Porch's
// resource-merge uses) as the baseline.
package mergebench

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/kustomize/kyaml/yaml/merge3"

	"github.com/forkline/forkline/internal/merge"
)

// perFile is how many resources share one file, as in real packages.
const perFile = 10

// Package returns base, upstream and downstream trees of n resources with
// no conflicts: upstream bumps images and adds env, downstream scales and
// labels, each on its own fields.
func Package(n int) (base, upstream, downstream merge.Tree) {
	base, upstream, downstream = merge.Tree{}, merge.Tree{}, merge.Tree{}
	for f := 0; f*perFile < n; f++ {
		var b, u, d []string
		for i := f * perFile; i < n && i < (f+1)*perFile; i++ {
			b = append(b, resource(i, "1.21.2", 1, false, false))
			u = append(u, resource(i, "1.21.3", 1, i%2 == 0, false))
			d = append(d, resource(i, "1.21.2", 1+i%3, false, i%4 == 0))
		}
		name := fmt.Sprintf("r%05d.yaml", f)
		base[name], upstream[name], downstream[name] = strings.Join(b, "---\n"), strings.Join(u, "---\n"), strings.Join(d, "---\n")
	}
	return base, upstream, downstream
}

func resource(i int, tag string, replicas int, extraEnv, labelled bool) string {
	if i%2 == 1 {
		data := fmt.Sprintf("  version: %q\n  replicas: \"%d\"\n", tag, replicas)
		if labelled {
			data += "  region: eu\n"
		}
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: default\ndata:\n%s", i, data)
	}
	labels := ""
	if labelled {
		labels = "  labels:\n    team: eu\n"
	}
	env := "        - name: LOG_LEVEL\n          value: info\n"
	if extraEnv {
		env += "        - name: FEATURE_X\n          value: \"on\"\n"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d
  namespace: default
%[2]sspec:
  replicas: %[3]d
  selector:
    matchLabels:
      app: app-%[1]d
  template:
    metadata:
      labels:
        app: app-%[1]d
    spec:
      containers:
      - name: app
        image: registry.example.com/app:%[4]s
        ports:
        - containerPort: 8080
        env:
%[5]s      - name: sidecar
        image: registry.example.com/sidecar:1.0
`, i, labels, replicas, tag, env)
}

// KyamlMerge3 merges with kyaml's merge3, resource by resource, as Porch's
// resource-merge does. Resources are matched through a map: kyaml's own
// filters.Merge3 matches with a quadratic scan, which would make the
// baseline unfairly slow at 10,000 resources.
func KyamlMerge3(base, upstream, downstream merge.Tree) (merge.Tree, error) {
	b, err := readAll(base)
	if err != nil {
		return nil, err
	}
	u, err := readAll(upstream)
	if err != nil {
		return nil, err
	}
	d, err := readAll(downstream)
	if err != nil {
		return nil, err
	}
	var out []*yaml.RNode
	for _, id := range ids(d, u) {
		switch {
		case d.byID[id] != nil && u.byID[id] != nil:
			merged, err := merge3.Merge(d.byID[id], b.byID[id], u.byID[id])
			if err != nil {
				return nil, err
			}
			out = append(out, merged)
		case d.byID[id] != nil && b.byID[id] == nil:
			out = append(out, d.byID[id])
		case u.byID[id] != nil && d.byID[id] == nil && b.byID[id] == nil:
			out = append(out, u.byID[id])
		}
	}
	return writeAll(out)
}

// KioRead reads a package with kio.ByteReader, as kyaml's tools do, and
// says how many resources it holds.
func KioRead(t merge.Tree) (int, error) {
	s, err := readAll(t)
	if err != nil {
		return 0, err
	}
	return len(s.order), nil
}

type side struct {
	order []string
	byID  map[string]*yaml.RNode
}

func readAll(t merge.Tree) (*side, error) {
	s := &side{byID: map[string]*yaml.RNode{}}
	paths := make([]string, 0, len(t))
	for p := range t {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		nodes, err := (&kio.ByteReader{Reader: strings.NewReader(t[p]), SetAnnotations: map[string]string{kioutil.PathAnnotation: p}}).Read()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, n := range nodes {
			id := n.GetApiVersion() + "|" + n.GetKind() + "|" + n.GetNamespace() + "|" + n.GetName()
			s.byID[id] = n
			s.order = append(s.order, id)
		}
	}
	return s, nil
}

func ids(sides ...*side) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range sides {
		for _, id := range s.order {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

func writeAll(nodes []*yaml.RNode) (merge.Tree, error) {
	byFile := map[string][]*yaml.RNode{}
	for _, n := range nodes {
		p := n.GetAnnotations()[kioutil.PathAnnotation]
		byFile[p] = append(byFile[p], n)
	}
	out := merge.Tree{}
	for p, ns := range byFile {
		var sb strings.Builder
		//nolint:staticcheck // kio still writes the legacy annotations; clearing them keeps the output comparable.
		if err := (kio.ByteWriter{Writer: &sb, ClearAnnotations: []string{kioutil.PathAnnotation, kioutil.IndexAnnotation, kioutil.LegacyPathAnnotation, kioutil.LegacyIndexAnnotation, kioutil.SeqIndentAnnotation, kioutil.IdAnnotation, kioutil.LegacyIdAnnotation}}).Write(ns); err != nil {
			return nil, err
		}
		out[p] = sb.String()
	}
	return out, nil
}
