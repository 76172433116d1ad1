package packagevariant

import (
	"testing"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
)

func TestRetirementOf(t *testing.T) {
	pv := &v1.PackageVariant{}
	pv.UID = "u1"
	rev := func(owner, revision string, lc porchv1alpha1.PackageRevisionLifecycle) *porchv1alpha1.PackageRevision {
		pr := &porchv1alpha1.PackageRevision{Spec: porchv1alpha1.PackageRevisionSpec{Lifecycle: lc}}
		porch.SetRevision(pr, revision)
		if owner != "" {
			pr.Annotations = map[string]string{v1.AnnotationOwnerUID: owner}
		}
		return pr
	}
	cases := map[string]struct {
		pr   *porchv1alpha1.PackageRevision
		want retirement
	}{
		"its draft":                     {rev("u1", "", porchv1alpha1.PackageRevisionLifecycleDraft), deleteUnlessEdited},
		"its proposal":                  {rev("u1", "", porchv1alpha1.PackageRevisionLifecycleProposed), deleteUnlessEdited},
		"its published release":         {rev("u1", "v3", porchv1alpha1.PackageRevisionLifecyclePublished), proposeDeletion},
		"the branch's placeholder":      {rev("u1", "main", porchv1alpha1.PackageRevisionLifecyclePublished), leave},
		"already proposed for deletion": {rev("u1", "v2", porchv1alpha1.PackageRevisionLifecycleDeletionProposed), leave},
		"a person's draft":              {rev("", "", porchv1alpha1.PackageRevisionLifecycleDraft), leave},
		"another variant's release":     {rev("u2", "v3", porchv1alpha1.PackageRevisionLifecyclePublished), leave},
		"a person's published release":  {rev("", "v4", porchv1alpha1.PackageRevisionLifecyclePublished), leave},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := retirementOf(tc.pr, pv); got != tc.want {
				t.Errorf("retirementOf = %v, want %v", got, tc.want)
			}
		})
	}
}
