package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// TestPackageVariantBadInput: what the API server cannot reject ends in a
// condition a person can act on, the manager keeps running, and a
// suspended variant writes nothing.
func TestPackageVariantBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const ns = "bad-e2e"
	broken := webRelease("1.0.0")
	broken.Files["broken.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  key: [unclosed\n"
	if err := env.PushReleases("bad-upstream", "web", broken); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "bad-upstream", "web", "v1.0.0", "bad-downstream")
	stop := startManager(t)
	defer stop()

	variant := func(name, versions, upstreamRepo string, mutate func(*v1.PackageVariant)) *v1.PackageVariant {
		pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: upstreamRepo, Package: "web"}, ReleaseTrack: v1.ReleaseTrack{Versions: versions}}
		pv.Spec.Downstream = v1.Downstream{Repo: "bad-downstream", Package: name}
		if mutate != nil {
			mutate(pv)
		}
		if err := env.Client.Create(ctx, pv); err != nil {
			t.Fatal(err)
		}
		return pv
	}
	cases := []struct {
		pv         *v1.PackageVariant
		reason     string
		message    string
		wantStalls bool
	}{
		{variant("bad-constraint", "1.x ||| banana", "bad-upstream", nil), "InvalidSpec", `upstream.versions "1.x ||| banana" is not a semver constraint`, true},
		{variant("missing-repo", "1.x", "no-such-repo", nil), "RepositoryNotFound", `Porch Repository "no-such-repo" does not exist in namespace "bad-e2e"`, true},
		{variant("nothing-matches", "2.x", "bad-upstream", nil), "NothingToSync", `no published upstream revision matches "2.x"`, false},
		{variant("unknown-pin", "1.x", "bad-upstream", func(pv *v1.PackageVariant) {
			pv.Spec.Pin = &v1.Pin{Revision: "v1.0.9", Reason: "hold"}
		}), "InvalidSpec", `pin.revision "v1.0.9" is not a published revision`, true},
		{variant("malformed-upstream", "1.x", "bad-upstream", nil), "Failed", "Porch could not create the draft for upstream v1.0.0", false},
		{variant("suspended", "1.x", "bad-upstream", func(pv *v1.PackageVariant) { pv.Spec.Suspend = true }), "Suspended", "spec.suspend is true", false},
	}
	for _, tc := range cases {
		t.Run(tc.pv.Name, func(t *testing.T) {
			v := &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKeyFromObject(tc.pv)}
			got := v.waitVariant(tc.reason, 2*time.Minute, func(pv *v1.PackageVariant) bool {
				ready := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionReady)
				return ready != nil && ready.Status == metav1.ConditionFalse && strings.Contains(ready.Message, tc.message)
			})
			if stalled := meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionStalled); stalled != tc.wantStalls {
				t.Errorf("Stalled = %v, want %v (%+v)", stalled, tc.wantStalls, got.Status.Conditions)
			}
			t.Logf("Ready=False: %s", meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message)
		})
	}
	// The suspended variant wrote nothing.
	for _, pr := range (&variantTest{t: t, ctx: ctx, ns: ns}).downstreamOf("bad-downstream") {
		if pr.Spec.PackageName == "suspended" {
			t.Errorf("a suspended variant created %s", pr.Name)
		}
	}
}
