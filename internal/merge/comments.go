package merge

import "sigs.k8s.io/kustomize/kyaml/yaml"

// Comments merge like values, but never conflict: a comment the downstream
// left as it was in base takes upstream's version (added, changed or
// removed there); a comment the downstream changed stays the downstream's.

// identical says whether a and b are the same, comments included: a side
// identical to base changed nothing there at all.
func identical(a, b *yaml.Node) bool {
	a, b = present(a), present(b)
	if a == nil || b == nil {
		return a == b
	}
	if !sameOwnComments(a, b) || a.Kind != b.Kind || len(a.Content) != len(b.Content) {
		return false
	}
	if a.Kind == yaml.ScalarNode {
		return equal(a, b)
	}
	for i := range a.Content {
		if !identical(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

func sameOwnComments(a, b *yaml.Node) bool {
	return a.HeadComment == b.HeadComment && a.LineComment == b.LineComment && a.FootComment == b.FootComment
}

// withComments is n carrying the merged comments of b, u and d: n itself
// when they are n's already, else a shallow copy.
func withComments(n, b, u, d *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	head := mergeComment(commentOf(b, head), commentOf(u, head), commentOf(d, head))
	line := mergeComment(commentOf(b, line), commentOf(u, line), commentOf(d, line))
	foot := mergeComment(commentOf(b, foot), commentOf(u, foot), commentOf(d, foot))
	if n.HeadComment == head && n.LineComment == line && n.FootComment == foot {
		return n
	}
	out := *n
	out.HeadComment, out.LineComment, out.FootComment = head, line, foot
	return &out
}

type commentSlot int

const (
	head commentSlot = iota
	line
	foot
)

func commentOf(n *yaml.Node, slot commentSlot) string {
	if n == nil {
		return ""
	}
	switch slot {
	case head:
		return n.HeadComment
	case line:
		return n.LineComment
	}
	return n.FootComment
}

// mergeComment is upstream's comment where the downstream left base's,
// else the downstream's.
func mergeComment(b, u, d string) string {
	if d == b {
		return u
	}
	return d
}
