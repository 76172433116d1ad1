package packagevariant

import (
	"testing"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

func TestRoleOf(t *testing.T) {
	pv := &v1.PackageVariant{}
	pv.UID = "u1"
	pv.Status.Sync = &v1.SyncStatus{Draft: "named", To: "v1.21.3"}
	type rev struct {
		name, owner, sync, workspace string
		lifecycle                    porchv1alpha1.PackageRevisionLifecycle
		terminating                  bool
	}
	build := func(r rev) *porchv1alpha1.PackageRevision {
		pr := &porchv1alpha1.PackageRevision{Spec: porchv1alpha1.PackageRevisionSpec{
			Lifecycle: r.lifecycle, WorkspaceName: r.workspace,
		}}
		if pr.Spec.Lifecycle == "" {
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDraft
		}
		pr.Name = r.name
		pr.Annotations = map[string]string{}
		if r.owner != "" {
			pr.Annotations[v1.AnnotationOwnerUID] = r.owner
		}
		if r.sync != "" {
			pr.Annotations[v1.AnnotationSync] = r.sync
		}
		if r.terminating {
			pr.DeletionTimestamp = &metav1.Time{}
		}
		return pr
	}
	cases := map[string]struct {
		rev    rev
		target string
		want   draftRole
	}{
		"a person's draft":                   {rev{owner: ""}, "v1.21.3", notOurs},
		"another variant's draft":            {rev{owner: "u2", sync: "v1.21.3"}, "v1.21.3", notOurs},
		"its published release":              {rev{owner: "u1", sync: "v1.21.3", lifecycle: porchv1alpha1.PackageRevisionLifecyclePublished}, "v1.21.3", notOurs},
		"being collected wins over the sync": {rev{owner: "u1", sync: "v1.21.3", terminating: true}, "v1.21.3", beingCollected},
		"this sync's draft":                  {rev{owner: "u1", sync: "v1.21.3"}, "v1.21.3", thisSync},
		"this sync's proposal":               {rev{owner: "u1", sync: "v1.21.3", lifecycle: porchv1alpha1.PackageRevisionLifecycleProposed}, "v1.21.3", thisSync},
		"an older sync's draft":              {rev{owner: "u1", sync: "v1.21.2"}, "v1.21.3", olderSync},
		"record lost, named by the status":   {rev{name: "named", owner: "u1"}, "v1.21.3", thisSyncRecordLost},
		"record lost, in this workspace":     {rev{owner: "u1", workspace: "forkline-v1-21-3-2"}, "v1.21.3", thisSyncRecordLost},
		"named for another target":           {rev{name: "named", owner: "u1"}, "v1.21.4", olderSync},
		"no record, another workspace":       {rev{owner: "u1", workspace: "forkline-v1-21-2"}, "v1.21.3", olderSync},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := roleOf(build(tc.rev), pv, tc.target, tc.target); got != tc.want {
				t.Errorf("roleOf = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHeldRelative(t *testing.T) {
	for key, want := range map[string]string{
		"v1.21.5":                 "upstream v1.21.5, newer",
		"v1.21.2":                 "upstream v1.21.2, older",
		"v1.21.3-config-0a1b2c3d": "upstream v1.21.3 with the variant's earlier steps or injected config",
		"":                        "no recorded upstream revision",
	} {
		if got := heldRelative(key, "v1.21.3"); got != want {
			t.Errorf("heldRelative(%q) = %q, want %q", key, got, want)
		}
	}
}
