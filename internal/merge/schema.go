package merge

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// schemas answers which lists are associative and by which keys: from
// kyaml's OpenAPI schema for built-in kinds, from CRDs found in the package
// for custom kinds, and from the Kptfile's own shape.
type schemas struct {
	crds  map[string]*yaml.Node // group|kind -> openAPIV3Schema
	cache map[string]listSchema
}

type listSchema struct {
	keys []string
	ok   bool
	// atomic is set when the schema says so outright: never merged by
	// element, whatever its elements carry.
	atomic bool
}

func newSchemas(pkgs ...*pkg) *schemas {
	s := &schemas{crds: map[string]*yaml.Node{}, cache: map[string]listSchema{}}
	for _, p := range pkgs {
		for _, r := range p.order {
			if r.kind != "CustomResourceDefinition" || !strings.HasPrefix(r.apiVersion, "apiextensions.k8s.io/") {
				continue
			}
			spec := field(r.node, "spec")
			group, kind := scalar(field(spec, "group")), scalar(field(field(spec, "names"), "kind"))
			schema := field(field(spec, "validation"), "openAPIV3Schema")
			if versions := field(spec, "versions"); versions != nil && len(versions.Content) > 0 {
				schema = field(field(versions.Content[0], "schema"), "openAPIV3Schema")
			}
			if group != "" && kind != "" && schema != nil {
				s.crds[group+"|"+kind] = schema
			}
		}
	}
	return s
}

// listKeys returns the merge keys of the list at loc; ok is false for a
// list merged as a whole. A list the schema says nothing about is merged
// by element when every element of all three versions carries the same
// identifying field (kyaml's associative keys: name).
func (s *schemas) listKeys(loc location, b, u, d *yaml.Node) ([]string, bool) {
	ls := s.listSchema(loc, b, u, d)
	if ls.ok || ls.atomic {
		return ls.keys, ls.ok
	}
	return inferredKeys(b, u, d)
}

// inferredKeys is the associative key kyaml would infer for all of lists.
func inferredKeys(lists ...*yaml.Node) ([]string, bool) {
	key := ""
	for _, l := range lists {
		if l == nil {
			continue
		}
		k := yaml.NewRNode(l).GetAssociativeKey()
		if k == "" || (key != "" && k != key) {
			return nil, false
		}
		key = k
	}
	return []string{key}, key != ""
}

func (s *schemas) listSchema(loc location, b, u, d *yaml.Node) listSchema {
	res := loc.res
	path := strings.Join(loc.schema, ".")
	if res.kind == "Kptfile" {
		keys, ok := kptfileListKeys(path, b, u, d)
		return listSchema{keys: keys, ok: ok, atomic: !ok}
	}
	cacheKey := res.apiVersion + "|" + res.kind + "|" + path
	if ls, hit := s.cache[cacheKey]; hit {
		return ls
	}
	var ls listSchema
	group := ""
	if i := strings.LastIndex(res.apiVersion, "/"); i >= 0 {
		group = res.apiVersion[:i]
	}
	if crd, ok := s.crds[group+"|"+res.kind]; ok {
		ls = crdListKeys(crd, loc.schema)
	} else if rs := openapi.SchemaForResourceType(yaml.TypeMeta{APIVersion: res.apiVersion, Kind: res.kind}); rs != nil {
		if rs = rs.Lookup(loc.schema...); rs != nil {
			strategy, keys := rs.PatchStrategyAndKeyList()
			for _, st := range strings.Split(strategy, ",") {
				if st == "merge" {
					ls = listSchema{keys: keys, ok: true}
				}
			}
		}
	}
	s.cache[cacheKey] = ls
	return ls
}

// crdListKeys walks a CRD's structural schema to the list at path.
func crdListKeys(schema *yaml.Node, path []string) listSchema {
	n := schema
	for _, p := range path {
		if p == "[]" {
			n = field(n, "items")
		} else if prop := field(field(n, "properties"), p); prop != nil {
			n = prop
		} else {
			n = field(n, "additionalProperties")
		}
		if n == nil {
			return listSchema{}
		}
	}
	switch scalar(field(n, "x-kubernetes-list-type")) {
	case "map":
		var keys []string
		if mk := field(n, "x-kubernetes-list-map-keys"); mk != nil {
			for _, k := range mk.Content {
				keys = append(keys, k.Value)
			}
		}
		return listSchema{keys: keys, ok: len(keys) > 0}
	case "set":
		return listSchema{ok: true}
	case "atomic":
		return listSchema{atomic: true}
	}
	if strings.Contains(scalar(field(n, "x-kubernetes-patch-strategy")), "merge") {
		if k := scalar(field(n, "x-kubernetes-patch-merge-key")); k != "" {
			return listSchema{keys: []string{k}, ok: true}
		}
		return listSchema{ok: true}
	}
	return listSchema{}
}

// kptfileListKeys: pipeline functions merge by name (by image when unnamed),
// readiness gates by condition type.
func kptfileListKeys(path string, lists ...*yaml.Node) ([]string, bool) {
	switch path {
	case "pipeline.mutators", "pipeline.validators":
		for _, l := range lists {
			for _, e := range contentOf(l) {
				if field(e, "name") == nil {
					return []string{"image"}, true
				}
			}
		}
		return []string{"name"}, true
	case "info.readinessGates":
		return []string{"conditionType"}, true
	}
	return nil, false
}

func contentOf(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	return n.Content
}
