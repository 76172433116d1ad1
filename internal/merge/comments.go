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

func sameOwnComments(a, b *yaml.Node) bool { return commentsOf(a) == commentsOf(b) }

// withComments is n carrying the merged comments of b, u and d: n itself
// when they are n's already, else a shallow copy.
func withComments(n, b, u, d *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	cb, cu, cd := commentsOf(b), commentsOf(u), commentsOf(d)
	var merged [3]string
	for i := range merged {
		merged[i] = mergeComment(cb[i], cu[i], cd[i])
	}
	if merged == commentsOf(n) {
		return n
	}
	out := *n
	out.HeadComment, out.LineComment, out.FootComment = merged[0], merged[1], merged[2]
	return &out
}

// commentsOf is n's head, line and foot comment.
func commentsOf(n *yaml.Node) [3]string {
	if n == nil {
		return [3]string{}
	}
	return [3]string{n.HeadComment, n.LineComment, n.FootComment}
}

// mergeComment is upstream's comment where the downstream left base's,
// else the downstream's.
func mergeComment(b, u, d string) string {
	if d == b {
		return u
	}
	return d
}
