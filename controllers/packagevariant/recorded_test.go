package packagevariant

import (
	"testing"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
)

// The release a variant must find listed is the newest its history
// records as published in its own downstream package.
func TestRecordedRelease(t *testing.T) {
	pv := &v1.PackageVariant{}
	pv.Spec.Downstream = v1.Downstream{Repo: "fork"}
	pv.Spec.Upstream.Package = "app"
	here := packageKey("fork", pv.Spec.DownstreamPackage())
	for _, c := range []struct {
		name    string
		history []v1.SyncRecord
		want    string
	}{
		{"no history (a new variant, a status wiped)", nil, ""},
		{"newest by N, not by position", []v1.SyncRecord{
			{Phase: v1.PhasePublished, Revision: "v2", Downstream: here},
			{Phase: v1.PhasePublished, Revision: "v10", Downstream: here},
		}, "v10"},
		{"a failed sync publishes nothing", []v1.SyncRecord{{Phase: v1.PhaseFailed, Revision: "v3", Downstream: here}}, ""},
		{"another downstream (the spec moved)", []v1.SyncRecord{{Phase: v1.PhasePublished, Revision: "v3", Downstream: "fork/other"}}, ""},
		{"a record without its downstream", []v1.SyncRecord{{Phase: v1.PhasePublished, Revision: "v3"}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			pv.Status.History = c.history
			if got, _ := recordedRelease(pv); got != c.want {
				t.Errorf("recordedRelease = %q, want %q", got, c.want)
			}
		})
	}
}

// A release a person proposed for deletion is still listed; main is no
// release.
func TestNewestListed(t *testing.T) {
	rev := func(r string, l porchv1alpha1.PackageRevisionLifecycle) porchv1alpha1.PackageRevision {
		pr := porchv1alpha1.PackageRevision{Spec: porchv1alpha1.PackageRevisionSpec{Lifecycle: l}}
		porch.SetRevision(&pr, r)
		return pr
	}
	prs := []porchv1alpha1.PackageRevision{
		rev("main", porchv1alpha1.PackageRevisionLifecyclePublished),
		rev("v1", porchv1alpha1.PackageRevisionLifecyclePublished),
		rev("v2", porchv1alpha1.PackageRevisionLifecycleDeletionProposed),
	}
	if got := newestListed(prs); got != 2 {
		t.Errorf("newestListed = %d, want 2", got)
	}
	if got := newestListed(prs[:1]); got != -1 {
		t.Errorf("newestListed of main alone = %d, want -1", got)
	}
}
