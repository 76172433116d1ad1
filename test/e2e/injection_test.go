package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
)

const webRegionConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: region-config
  annotations:
    kpt.dev/config-injection: required
data:
  region: placeholder
`

// webRelease is the web package with an optional injection point, as
// most tests use it: a variant without injectors proposes it as it is.
func webRelease(version string) devstack.Release {
	return devstack.Release{Version: version, Files: map[string]string{
		"Kptfile":         "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: web\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n",
		"deployment.yaml": strings.ReplaceAll(webDeployment, "1.21.2", "0.0.1"),
		"region.yaml":     strings.Replace(webRegionConfig, "config-injection: required", "config-injection: optional", 1),
	}}
}

// webRequiredRelease is the web package whose injection point is
// required: its draft waits for an injector that fills it.
func webRequiredRelease(version string) devstack.Release {
	r := webRelease(version)
	r.Files["region.yaml"] = webRegionConfig
	return r
}

// injectionStage is what both injection tests start from: the web package
// with a required injection point released as v1.0.0 in <name>-upstream,
// <name>-downstream registered in namespace <name>-e2e, and the ConfigMap
// eu-west there to inject.
func injectionStage(ctx context.Context, t *testing.T, name string) (*variantTest, *corev1.ConfigMap) {
	t.Helper()
	v := &variantTest{t: t, ctx: ctx, ns: name + "-e2e", key: client.ObjectKey{Namespace: name + "-e2e", Name: "web"}}
	if err := env.PushReleases(name+"-upstream", "web", webRequiredRelease("1.0.0")); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, v.ns, name+"-upstream", "web", "v1.0.0", name+"-downstream")
	region := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: v.ns, Name: "eu-west"}, Data: map[string]string{"region": "eu-west-1"}}
	if err := env.Client.Create(ctx, region); err != nil {
		t.Fatal(err)
	}
	return v, region
}

// TestPackageVariantStepsInjectionAndMoves: a variant with a step and an
// injection point; a change to the injected ConfigMap yields a new draft;
// with order Latest an untouched proposal moves to the newer release, and a
// draft a person edited is left alone.
func TestPackageVariantStepsInjectionAndMoves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	v, region := injectionStage(ctx, t, "inj")
	defer startManager(t)()

	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: v.ns, Name: "web"}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: "inj-upstream", Package: "web"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.x", Order: v1.Latest}}
	pv.Spec.Downstream = v1.Downstream{Repo: "inj-downstream"}
	pv.Spec.Injectors = []v1.Injector{{Name: "eu-west"}}
	pv.Spec.Pipeline = &v1.Pipeline{Mutators: []v1.Function{{
		Image: devstack.FunctionImage("bump-version"), ConfigMap: map[string]string{"images": "registry.example.com/web"},
	}}}
	pv.Spec.Labels = map[string]string{"team": "payments"}
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	got := v.waitVariant("first sync proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	res := v.draftResources(got.Status.Sync.Draft)
	mustContain(t, "injected region.yaml", res["region.yaml"], "region: eu-west-1")
	injectedIs(t, res["region.yaml"], "eu-west")
	mustContain(t, "Kptfile", res["Kptfile"], "name: forkline.web.bump-version.0", "conditionType: config.injection.ConfigMap.region-config")
	mustContain(t, "rendered deployment.yaml (bump-version ran in Porch)", res["deployment.yaml"], "image: registry.example.com/web:1.0.0")
	draft := &porchv1alpha1.PackageRevision{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: v.ns, Name: got.Status.Sync.Draft}, draft); err != nil {
		t.Fatal(err)
	}
	if draft.Labels["team"] != "payments" || draft.Annotations[v1.AnnotationOwnerUID] != string(got.UID) || len(draft.OwnerReferences) > 0 {
		t.Errorf("draft labels %v, annotations %v, ownerReferences %v: want team=payments, the variant's UID, no ownerReference", draft.Labels, draft.Annotations, draft.OwnerReferences)
	}
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("up to date", time.Minute, func(pv *v1.PackageVariant) bool {
		return meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate)
	})

	// The injected ConfigMap changes: a new draft carries it.
	region.Data["region"] = "eu-west-2"
	if err := env.Client.Update(ctx, region); err != nil {
		t.Fatal(err)
	}
	got = v.waitVariant("config change proposed", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Sync != nil && pv.Status.Sync.Phase == v1.PhaseProposed && strings.Contains(pv.Status.Sync.Message, "config") ||
			pv.Status.Sync != nil && pv.Status.Sync.Phase == v1.PhaseProposed && pv.Status.Upstream.Current == "v1.0.0" && pv.Status.Sync.Draft != ""
	})
	mustContain(t, "re-injected region.yaml", v.draftResources(got.Status.Sync.Draft)["region.yaml"], "region: eu-west-2")
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("up to date with the new config", time.Minute, func(pv *v1.PackageVariant) bool {
		return meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate) && pv.Status.Sync.Phase == v1.PhasePublished
	})

	// Upstream releases 1.0.1, then 1.0.2 before anyone approves: the
	// untouched proposal for 1.0.1 moves to 1.0.2.
	if err := env.PushReleases("inj-upstream", "web", webRequiredRelease("1.0.1")); err != nil {
		t.Fatal(err)
	}
	first := v.waitVariant("1.0.1 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.1"))
	if err := env.PushReleases("inj-upstream", "web", webRequiredRelease("1.0.2")); err != nil {
		t.Fatal(err)
	}
	v.waitVariant("moved to 1.0.2", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.2"))
	for _, pr := range v.downstreamOf("inj-downstream") {
		if pr.Name == first.Status.Sync.Draft {
			t.Errorf("the untouched 1.0.1 proposal %s is still there (%s)", pr.Name, pr.Spec.Lifecycle)
		}
	}

	// A person takes the 1.0.2 proposal back to Draft and edits it; then
	// 1.0.3 arrives: forkline leaves the edited draft alone and says so.
	second := v.waitVariant("1.0.2 proposed", time.Minute, phaseIs(v1.PhaseProposed, "v1.0.2"))
	v.porchctl("rpkg", "reject", second.Status.Sync.Draft)
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: v.ns, Name: second.Status.Sync.Draft}, prr); err != nil {
		t.Fatal(err)
	}
	prr.Spec.Resources["notes.md"] = "reviewed by the payments team\n"
	if err := env.Client.Update(ctx, prr); err != nil {
		t.Fatal(err)
	}
	if err := env.PushReleases("inj-upstream", "web", webRequiredRelease("1.0.3")); err != nil {
		t.Fatal(err)
	}
	got = v.waitVariant("edited draft left alone", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Sync != nil && pv.Status.Sync.EditedByPerson && pv.Status.Upstream.Target == "v1.0.3"
	})
	t.Logf("status when the edited draft blocks the move: %s", got.Status.Sync.Message)
	res = v.draftResources(second.Status.Sync.Draft)
	if res["notes.md"] != "reviewed by the payments team\n" {
		t.Errorf("the person's edit was lost: %v", res["notes.md"])
	}
	for _, pr := range v.downstreamOf("inj-downstream") {
		if string(pr.Spec.WorkspaceName) == "forkline-v1-0-3" {
			t.Errorf("forkline made a 1.0.3 draft (%s) although the person's draft is pending", pr.Name)
		}
	}

	// deletionPolicy orphan: deleting the variant leaves every revision,
	// the person's draft included, exactly as it was.
	before := map[string]porchv1alpha1.PackageRevisionLifecycle{}
	for _, pr := range v.downstreamOf("inj-downstream") {
		before[pr.Name] = pr.Spec.Lifecycle
	}
	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) { pv.Spec.DeletionPolicy = v1.DeletionOrphan })
	current := &v1.PackageVariant{}
	if err := env.Client.Get(ctx, v.key, current); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, current); err != nil {
		t.Fatal(err)
	}
	v.waitGone()
	after := map[string]porchv1alpha1.PackageRevisionLifecycle{}
	for _, pr := range v.downstreamOf("inj-downstream") {
		after[pr.Name] = pr.Spec.Lifecycle
	}
	if len(after) != len(before) {
		t.Errorf("orphan deletion changed the revisions: before %v, after %v", before, after)
	}
	for name, lc := range before {
		if after[name] != lc {
			t.Errorf("%s went from %s to %s under deletionPolicy orphan", name, lc, after[name])
		}
	}
}

// waitGone waits until the variant is deleted (its finalizer done).
func (v *variantTest) waitGone() {
	v.t.Helper()
	err := wait.PollUntilContextTimeout(v.ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, v.key, &v1.PackageVariant{})
		return err != nil && client.IgnoreNotFound(err) == nil, nil
	})
	if err != nil {
		v.t.Fatalf("variant %s was not deleted: %v", v.key, err)
	}
}

func (v *variantTest) downstreamOf(repo string) []porchv1alpha1.PackageRevision {
	v.t.Helper()
	var list porchv1alpha1.PackageRevisionList
	if err := env.Client.List(v.ctx, &list, client.InNamespace(v.ns)); err != nil {
		v.t.Fatal(err)
	}
	var out []porchv1alpha1.PackageRevision
	for _, pr := range list.Items {
		if pr.Spec.RepositoryName == repo {
			out = append(out, pr)
		}
	}
	return out
}

// TestInjectionAsPorchDoes: a required injection point is gated as Porch's
// PackageVariant gates it, whether or not the variant has injectors: the
// draft carries the readiness gate with Porch's condition (False,
// NoResourceSelected, "no injectors defined"), is not proposed, and the
// variant names the point; an injector that fills it gets the draft
// proposed with Porch's ConfigInjected condition and annotation.
func TestInjectionAsPorchDoes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	v, _ := injectionStage(ctx, t, "injp")
	defer startManager(t)()

	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: v.ns, Name: "web"}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: "injp-upstream", Package: "web"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.x"}}
	pv.Spec.Downstream = v1.Downstream{Repo: "injp-downstream"}
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	got := v.waitVariant("the unfilled point stated", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Sync != nil && pv.Status.Sync.Phase == v1.PhaseFailed
	})
	ready := readyOf(got)
	t.Logf("no injectors: Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
	if ready.Reason != "NoResourceSelected" {
		t.Errorf("Ready reason %q, want NoResourceSelected", ready.Reason)
	}
	mustContain(t, "the variant's status", ready.Message, `ConfigMap "region-config" (NoResourceSelected: no injectors defined)`, "spec.injectors", "not proposed")
	draft := &porchv1alpha1.PackageRevision{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: v.ns, Name: got.Status.Sync.Draft}, draft); err != nil {
		t.Fatal(err)
	}
	if draft.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecycleDraft {
		t.Errorf("the draft with an unfilled required point is %s, want Draft", draft.Spec.Lifecycle)
	}
	mustContain(t, "the draft's Kptfile", v.draftResources(draft.Name)["Kptfile"],
		"conditionType: config.injection.ConfigMap.region-config", "reason: NoResourceSelected", "message: no injectors defined", `status: "False"`)

	// An injector that fills it: the same draft, filled and proposed.
	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) { pv.Spec.Injectors = []v1.Injector{{Name: "eu-west"}} })
	got = v.waitVariant("filled and proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	res := v.draftResources(got.Status.Sync.Draft)
	t.Logf("with an injector: %s", got.Status.Sync.Message)
	mustContain(t, "region.yaml", res["region.yaml"], "region: eu-west-1")
	injectedIs(t, res["region.yaml"], "eu-west")
	mustContain(t, "the draft's Kptfile", res["Kptfile"], "reason: ConfigInjected", `message: injected resource "eu-west" from cluster`, `status: "True"`)
	if strings.Contains(res["region.yaml"], "injected-resource-name") {
		t.Errorf("region.yaml carries forkline's old annotation:\n%s", res["region.yaml"])
	}

	// packageContext on a downstream that is no deployment Repository:
	// there is no package-context.yaml to edit, and that is said, as
	// Porch's PackageVariant says it.
	ctxVariant := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: v.ns, Name: "web-ctx"}}
	ctxVariant.Spec = *pv.Spec.DeepCopy()
	ctxVariant.Spec.Downstream.Package = "web-ctx"
	ctxVariant.Spec.Injectors = []v1.Injector{{Name: "eu-west"}}
	ctxVariant.Spec.PackageContext = &v1.PackageContext{Data: map[string]string{"tier": "gold"}}
	if err := env.Client.Create(ctx, ctxVariant); err != nil {
		t.Fatal(err)
	}
	cv := &variantTest{t: t, ctx: ctx, ns: v.ns, key: client.ObjectKeyFromObject(ctxVariant)}
	stated := cv.waitVariant("packageContext without package-context.yaml stated", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		r := readyOf(pv)
		return r != nil && r.Reason == "MutationFailed"
	})
	t.Logf("packageContext on a plain Repository: %s", readyOf(stated).Message)
	mustContain(t, "the variant's status", readyOf(stated).Message, `no "package-context.yaml"`, "deployment Repository")
}

// injectedIs checks Porch's annotation of an injection point names the
// object injected (quoted or not, as the YAML writer chose).
func injectedIs(t *testing.T, content, name string) {
	t.Helper()
	for _, line := range strings.Split(content, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "kpt.dev/injected-resource:"); ok {
			if strings.Trim(strings.TrimSpace(v), `'"`) != name {
				t.Errorf("kpt.dev/injected-resource is %s, want %s", v, name)
			}
			return
		}
	}
	t.Errorf("no kpt.dev/injected-resource annotation:\n%s", content)
}
