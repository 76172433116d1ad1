package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/porch"
)

// TestAdoption: a downstream package someone made by hand is left alone
// under adoptNone, and taken over under adoptExisting.
func TestAdoption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	v := &variantTest{t: t, ctx: ctx, ns: "adopt-e2e", key: client.ObjectKey{Namespace: "adopt-e2e", Name: "web"}}
	if err := env.PushReleases("adopt-upstream", "web", webRelease("1.0.0")); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, v.ns, "adopt-upstream", "web", "v1.0.0", "adopt-downstream")
	upstream, err := env.WaitPackageRevision(ctx, v.ns, "adopt-upstream", "web", time.Minute, devstack.Published("v1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	byHand := &porchv1alpha1.PackageRevision{}
	byHand.Namespace = v.ns
	byHand.Spec = porchv1alpha1.PackageRevisionSpec{
		PackageName: "web", RepositoryName: "adopt-downstream", WorkspaceName: "by-hand",
		Lifecycle: porchv1alpha1.PackageRevisionLifecycleDraft,
		Tasks:     porch.CloneTask(upstream.Name),
	}
	if err := env.Client.Create(ctx, byHand); err != nil {
		t.Fatal(err)
	}
	v.porchctl("rpkg", "propose", byHand.Name)
	v.porchctl("rpkg", "approve", byHand.Name)

	stop := startManager(t)
	defer stop()
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: v.ns, Name: "web"}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: "adopt-upstream", Package: "web"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.x"}}
	pv.Spec.Downstream = v1.Downstream{Repo: "adopt-downstream"}
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	got := v.waitVariant("not adopted", time.Minute, func(pv *v1.PackageVariant) bool {
		c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "NotAdopted"
	})
	t.Logf("adoptNone: %s", meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message)

	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) { pv.Spec.AdoptionPolicy = v1.AdoptExisting })
	v.waitVariant("adopted and up to date", time.Minute, func(pv *v1.PackageVariant) bool {
		return meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate) && pv.Status.Upstream.Current == "v1.0.0"
	})

	// A package of another upstream is not adopted, whatever the policy:
	// its lock is no release of this upstream, and nothing is written
	// into it.
	if err := env.PushReleases("adopt-other", "web", webRelease("1.0.0")); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, v.ns, "adopt-other", "web", "v1.0.0")
	elsewhere := byHand.DeepCopy()
	elsewhere.ObjectMeta = metav1.ObjectMeta{Namespace: v.ns}
	elsewhere.Spec.PackageName, elsewhere.Spec.WorkspaceName = "web-copy", "by-hand"
	if err := env.Client.Create(ctx, elsewhere); err != nil {
		t.Fatal(err)
	}
	v.porchctl("rpkg", "propose", elsewhere.Name)
	v.porchctl("rpkg", "approve", elsewhere.Name)
	other := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: v.ns, Name: "web-other"}}
	other.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: "adopt-other", Package: "web"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.x"}}
	other.Spec.Downstream = v1.Downstream{Repo: "adopt-downstream", Package: "web-copy"}
	other.Spec.AdoptionPolicy = v1.AdoptExisting
	if err := env.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	ov := &variantTest{t: t, ctx: ctx, ns: v.ns, key: client.ObjectKeyFromObject(other)}
	got = ov.waitVariant("another upstream's package not adopted", time.Minute, func(pv *v1.PackageVariant) bool {
		c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "NotAdopted"
	})
	said := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
	t.Logf("another upstream's package: %s", said)
	mustContain(t, "the variant", said, "was cloned from", "adopt-upstream", "not from this variant's upstream")
	if meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionUpstreamReleaseMoved) {
		t.Errorf("another upstream's lock read as a moved tag: %+v", got.Status.Conditions)
	}
	if refs := lsRemote(t, "adopt-downstream"); strings.Contains(refs, "web-copy/forkline") {
		t.Errorf("forkline wrote into another upstream's package: %s", refs)
	}
}
