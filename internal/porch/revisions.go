package porch

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
)

// Porch numbers a package's revisions (v1.4 and later: spec.revision 1, 2,
// ...; drafts 0) and lists every other published git tag of the package as
// a revision -1 whose workspaceName is the tag's last part (app/v1.21.3 ->
// v1.21.3); the branch's own placeholder is -1 too, its workspaceName the
// branch. forkline names a published revision the way a person reads it and
// the way its status and history have always spelled it: "v2" for number 2,
// the tag's version for a tagged release.

// releaseTag is a tag's version that names a release (v1, v0.9.0, v1.21.3),
// as opposed to a branch such as main.
var releaseTag = regexp.MustCompile(`^v\d`)

// Number is the number Porch gave a revision (published, or proposed for
// deletion), -1 for a tagged release, a branch's placeholder or a revision
// not yet published.
func Number(pr *porchv1alpha1.PackageRevision) int {
	if pr.Spec.Revision <= 0 {
		return -1
	}
	return pr.Spec.Revision
}

// Revision is the name of a published revision (or one proposed for
// deletion): "vN" for the revision Porch numbered N, the version of the
// tag Porch lists it from ("v1.21.3"), or "" for a draft, a proposal or the
// branch's placeholder, which are no release.
func Revision(pr *porchv1alpha1.PackageRevision) string {
	switch {
	case pr.Spec.Revision > 0:
		return NumberName(pr.Spec.Revision)
	case pr.Spec.Revision < 0 && releaseTag.MatchString(string(pr.Spec.WorkspaceName)):
		return string(pr.Spec.WorkspaceName)
	}
	return ""
}

// Published says pr is published (a release, a numbered revision or the
// branch's placeholder).
func Published(pr *porchv1alpha1.PackageRevision) bool {
	return pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished
}

// Placeholder says pr is a branch's placeholder: published, but no release
// (Porch lists one per package for the branch head; it is never a source
// to clone, edit or upgrade from).
func Placeholder(pr *porchv1alpha1.PackageRevision) bool {
	return Published(pr) && Revision(pr) == ""
}

// NumberName is how forkline writes revision number n: "v2".
func NumberName(n int) string { return fmt.Sprintf("v%d", n) }

var numbered = regexp.MustCompile(`^v(\d+)$`)

// ReleaseNumber is N of a revision name "vN" forkline recorded, -1 for any
// other (a tag's version, main).
func ReleaseNumber(revision string) int {
	m := numbered.FindStringSubmatch(revision)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// LatestPublished is the published revision with the highest number (not a
// tagged release nor the branch's placeholder), or nil.
func LatestPublished(prs []porchv1alpha1.PackageRevision) *porchv1alpha1.PackageRevision {
	var best *porchv1alpha1.PackageRevision
	bestN := -1
	for i := range prs {
		if n := Number(&prs[i]); n > bestN && Published(&prs[i]) {
			best, bestN = &prs[i], n
		}
	}
	return best
}

// SetRevision gives pr the revision Porch v1.4+ lists under the name rev:
// number N for "vN", else -1 with rev as the workspaceName (a tag's
// version, or a branch for its placeholder); "" leaves it unnumbered, as
// a draft. It is how a Porch v1.3 revision reads today.
func SetRevision(pr *porchv1alpha1.PackageRevision, rev string) {
	n, workspace := currentForm(rev)
	pr.Spec.Revision = n
	if workspace != "" {
		pr.Spec.WorkspaceName = workspace
	}
}

// currentForm is the number and, for a tag or a branch, the workspaceName
// under which Porch v1.4+ lists the revision Porch v1.3 named rev.
func currentForm(rev string) (number int, workspace string) {
	switch n := ReleaseNumber(rev); {
	case rev == "":
		return 0, ""
	case n > 0:
		return n, ""
	}
	return -1, rev
}

// CloneTask is the task of a draft cloned from the published revision named
// upstream.
func CloneTask(upstream string) []porchv1alpha1.Task {
	return []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeClone, Clone: &porchv1alpha1.PackageCloneTaskSpec{
		Upstream: porchv1alpha1.UpstreamPackage{UpstreamRef: &porchv1alpha1.PackageRevisionRef{Name: upstream}},
	}}}
}

// EditTask is the task of a draft copied from the published revision named
// source: one task, as Porch v1.5.3+ takes.
func EditTask(source string) []porchv1alpha1.Task {
	return []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeEdit, Edit: &porchv1alpha1.PackageEditTaskSpec{
		Source: &porchv1alpha1.PackageRevisionRef{Name: source},
	}}}
}

// CloneOfExisting says Porch refused a clone because the Repository holds
// revisions of the package already (Porch v1.4+: "`clone` cannot create a
// new revision for package ... that already exists"; v1.3 allowed it).
func CloneOfExisting(err error) bool {
	return err != nil && strings.Contains(err.Error(), "cannot create a new revision for package")
}
