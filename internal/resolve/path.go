package resolve

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// A conflict's path joins map keys with "." and names a list element by
// its keys, as the merge writes it: spec.template.spec.containers[name=app].image,
// a scalar list's element as [=value]. Keys may hold dots themselves
// (metadata.annotations.config.kubernetes.io/local-config), so a path is
// read against the document: at each map, the longest key that prefixes
// what is left of the path.

// lookup is the value at path in n; nil when absent.
func lookup(n *yaml.Node, path string) (*yaml.Node, error) {
	var found *yaml.Node
	err := walk(n, path, func(parent *yaml.Node, at int, isKey bool) error {
		if at >= 0 {
			if isKey {
				found = parent.Content[at+1]
			} else {
				found = parent.Content[at]
			}
		}
		return nil
	}, false)
	return found, err
}

// set puts val at path in n, creating the maps on the way; a nil val
// removes the field or element.
func set(n *yaml.Node, path string, val *yaml.Node) error {
	return walk(n, path, func(parent *yaml.Node, at int, isKey bool) error {
		switch {
		case val == nil && at >= 0 && isKey:
			parent.Content = append(parent.Content[:at], parent.Content[at+2:]...)
		case val == nil && at >= 0:
			parent.Content = append(parent.Content[:at], parent.Content[at+1:]...)
		case val == nil:
		case at >= 0 && isKey:
			parent.Content[at+1] = val
		case at >= 0:
			parent.Content[at] = val
		default:
			return fmt.Errorf("no element %s to set in the draft", path)
		}
		return nil
	}, val != nil)
}

// walk finds path's last step in n and calls last with its parent and
// the index of its key (a map) or element (a list), -1 when absent from
// an existing map (after the key was appended when create is set, so the
// index is never -1 then).
func walk(n *yaml.Node, path string, last func(parent *yaml.Node, at int, isKey bool) error, create bool) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	rest := path
	for {
		if strings.HasPrefix(rest, "[") {
			end := strings.Index(rest, "]")
			if end < 0 || n.Kind != yaml.SequenceNode {
				return fmt.Errorf("path %s: no list at %q", path, rest)
			}
			i := element(n, rest[1:end])
			rest = rest[end+1:]
			if rest == "" {
				return last(n, i, false)
			}
			if i < 0 {
				if create {
					return fmt.Errorf("path %s: the draft has no element %s to set a field of", path, rest)
				}
				return last(nil, -1, false)
			}
			n = n.Content[i]
			rest = strings.TrimPrefix(rest, ".")
			continue
		}
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("path %s: %q is not under a map", path, rest)
		}
		at, key := -1, ""
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if (rest == k || strings.HasPrefix(rest, k+".") || strings.HasPrefix(rest, k+"[")) && len(k) > len(key) {
				at, key = i, k
			}
		}
		if at < 0 {
			key = rest
			if i := strings.IndexAny(rest, ".["); i >= 0 {
				key = rest[:i]
			}
			if !create {
				return last(n, -1, true)
			}
			next := &yaml.Node{Kind: yaml.MappingNode}
			if strings.HasPrefix(rest[len(key):], "[") {
				next = &yaml.Node{Kind: yaml.SequenceNode}
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, next)
			at = len(n.Content) - 2
			if rest == key {
				return last(n, at, true)
			}
		}
		rest = rest[len(key):]
		if rest == "" {
			return last(n, at, true)
		}
		n = n.Content[at+1]
		rest = strings.TrimPrefix(rest, ".")
	}
}

// element is the index of the list element sel names ("name=app",
// "name=a,protocol=TCP", or "=value" for a scalar), -1 when none.
func element(list *yaml.Node, sel string) int {
	if v, ok := strings.CutPrefix(sel, "="); ok {
		for i, el := range list.Content {
			if el.Kind == yaml.ScalarNode && el.Value == v {
				return i
			}
		}
		return -1
	}
	want := map[string]string{}
	for _, kv := range strings.Split(sel, ",") {
		k, v, _ := strings.Cut(kv, "=")
		want[k] = v
	}
next:
	for i, el := range list.Content {
		if el.Kind != yaml.MappingNode {
			continue
		}
		for k, v := range want {
			found := false
			for j := 0; j+1 < len(el.Content); j += 2 {
				if el.Content[j].Value == k && el.Content[j+1].Value == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return i
	}
	return -1
}
