package porch

import (
	"regexp"
	"strconv"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
)

var downstreamRevision = regexp.MustCompile(`^v(\d+)$`)

// ReleaseNumber is N of a downstream revision name "vN", -1 for any other
// (a branch's placeholder, main).
func ReleaseNumber(revision string) int {
	m := downstreamRevision.FindStringSubmatch(revision)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// LatestPublished is the newest published vN revision (not the branch's
// "main" placeholder), or nil.
func LatestPublished(prs []porchv1alpha1.PackageRevision) *porchv1alpha1.PackageRevision {
	var best *porchv1alpha1.PackageRevision
	bestN := -1
	for i := range prs {
		pr := &prs[i]
		if pr.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecyclePublished {
			continue
		}
		if n := ReleaseNumber(pr.Spec.Revision); n > bestN {
			best, bestN = pr, n
		}
	}
	return best
}
