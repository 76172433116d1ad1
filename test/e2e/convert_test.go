package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/fanout"
	"github.com/forkline/forkline/internal/porch"
)

// porchVariantSet is a Porch PackageVariantSet as a platform team keeps it
// in git: one explicit branch, the others selected by label, a label
// computed by CEL (which forkline does not evaluate).
const porchVariantSet = `apiVersion: config.porch.kpt.dev/v1alpha2
kind: PackageVariantSet
metadata:
  name: app-fleet
  namespace: cv-e2e
spec:
  upstream:
    repo: cv-upstream
    package: app
    workspaceName: v1.21.2
  targets:
  - repositories:
    - name: cv-explicit
  - repositorySelector:
      matchLabels:
        fleet: app
    template:
      labels:
        tier: fleet
      labelExprs:
      - key: cluster
        valueExpr: repository.name
  - objectSelector:
      apiVersion: v1
      kind: ConfigMap
      matchLabels:
        fleet-branch: app
    template:
      downstream:
        repoExpr: target.data.repo
`

// TestConvertedPorchVariantSetFollows: kubectl forkline convert turns a
// Porch PackageVariantSet (an explicit list, a repository selector, an
// object selector, templates) into an UpstreamPolicy the API server
// accepts, names the CEL it could not convert, and forkline following it
// proposes the same upstream revision into every branch the set named.
func TestConvertedPorchVariantSetFollows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const ns = "cv-e2e"
	if err := smoke.PushUpstreamReleases(env, "cv-upstream", "app", "1.21.2", "1.21.3"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "cv-upstream", "app", "v1.21.3", "cv-explicit", "cv-selected", "cv-other")
	repo := &configapi.Repository{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cv-selected"}, repo); err != nil {
		t.Fatal(err)
	}
	repo.Labels = map[string]string{"fleet": "app"}
	if err := env.Client.Update(ctx, repo); err != nil {
		t.Fatal(err)
	}

	// One branch named by an object of the namespace, as a platform team
	// keeps one per cluster.
	branch := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cluster-other", Labels: map[string]string{"fleet-branch": "app"}},
		Data: map[string]string{"repo": "cv-other"}}
	if err := env.Client.Create(ctx, branch); err != nil {
		t.Fatal(err)
	}

	in := filepath.Join(t.TempDir(), "porch.yaml")
	if err := os.WriteFile(in, []byte(porchVariantSet), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, plugin(t), "convert", "-f", in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl forkline convert: %v\n%s", err, stderr.String())
	}
	t.Logf("$ kubectl forkline convert -f porch.yaml\n%s\nstderr:\n%s", out, stderr.String())
	mustContain(t, "convert's standard error", stderr.String(), `NOT CONVERTED: spec.targets[1].template.labelExprs[0] (key: "cluster", valueExpr: "repository.name")`)
	mustContain(t, "converted policy", string(out), "kind: UpstreamPolicy", "revision: v1.21.2", "# NOT CONVERTED: spec.targets[1].template.labelExprs[0]", "repoField: data.repo")
	converted := filepath.Join(t.TempDir(), "forkline.yaml")
	if err := os.WriteFile(converted, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := env.Kubectl(ctx, "apply", "-f", converted); err != nil {
		t.Fatalf("kubectl apply of the converted policy: %v\n%s", err, msg)
	}

	stop := startManager(t)
	defer stop()
	proposed := map[string]*v1.PackageVariant{}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		list := &v1.PackageVariantList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{fanout.PolicyLabel: "app-fleet"}); err != nil {
			return false, nil
		}
		clear(proposed)
		for i := range list.Items {
			pv := &list.Items[i]
			if phaseIs(v1.PhaseProposed, "v1.21.2")(pv) {
				proposed[pv.Spec.Downstream.Repo] = pv
			}
		}
		return len(list.Items) == 3 && len(proposed) == 3, nil
	})
	if err != nil {
		t.Fatalf("the converted policy's variants did not all propose v1.21.2 into cv-explicit, cv-selected and cv-other: %v (proposed: %v)", err, keys(proposed))
	}
	if got := proposed["cv-selected"].Spec.Labels["tier"]; got != "fleet" {
		t.Errorf("the selected branch's variant lacks the template's label tier=fleet: %v", proposed["cv-selected"].Spec.Labels)
	}
	for _, pv := range proposed {
		t.Logf("%s: %s", pv.Spec.Downstream.Repo, readyOf(pv).Message)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// porchVariant is a Porch PackageVariant a platform team runs today.
const porchVariant = `apiVersion: config.porch.kpt.dev/v1alpha1
kind: PackageVariant
metadata:
  name: app-edge
  namespace: ho-e2e
spec:
  upstream:
    repo: ho-upstream
    package: app
    workspaceName: v1.21.2
  downstream:
    repo: ho-porch
    package: app
  labels:
    env: edge
  annotations:
    owner: platform
`

// TestHandOverFromPorchsVariant moves a branch from Porch's own
// PackageVariant controller to forkline as docs/migrating.md says: Porch's
// variant makes the downstream revision, a person publishes it, convert
// reads the variant from the cluster, Porch's variant is orphaned and
// deleted, and forkline adopts the published revision: the same package
// (forkline's own clone of the same intent holds the same files), no
// revision lost, no second draft, and the next release proposed on top.
func TestHandOverFromPorchsVariant(t *testing.T) {
	if env.Bin.PorchVersion != devstack.PorchCurrent {
		t.Skipf("Porch's variant controllers are built from Porch %s; make test runs this there", devstack.PorchCurrent)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns = "ho-e2e"
	v := &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKey{Namespace: ns, Name: "app-edge"}}
	if err := smoke.PushUpstreamReleases(env, "ho-upstream", "app", "1.21.2", "1.21.3"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "ho-upstream", "app", "v1.21.3", "ho-porch", "ho-forkline")
	stopPorch, err := env.StartPorchVariantControllers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stopPorch()
	dir := t.TempDir()
	porchFile := filepath.Join(dir, "porch.yaml")
	if err := os.WriteFile(porchFile, []byte(porchVariant), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := env.Kubectl(ctx, "apply", "-f", porchFile); err != nil {
		t.Fatalf("applying Porch's PackageVariant: %v\n%s", err, out)
	}

	// Porch's variant makes its draft; a person publishes it.
	made := func(lifecycle porchv1alpha1.PackageRevisionLifecycle) *porchv1alpha1.PackageRevision {
		var found *porchv1alpha1.PackageRevision
		err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(context.Context) (bool, error) {
			for _, pr := range v.downstreamOf("ho-porch") {
				if pr.Spec.PackageName == "app" && pr.Spec.Lifecycle == lifecycle && !porch.Placeholder(&pr) {
					found = pr.DeepCopy()
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("no %s revision of app in ho-porch: %v; Porch's variant says: %s", lifecycle, err, porchVariantStatus(ctx, ns))
		}
		return found
	}
	draft := made(porchv1alpha1.PackageRevisionLifecycleDraft)
	t.Logf("Porch's variant made draft %s (labels %v)", draft.Name, draft.Labels)
	v.porchctl("rpkg", "propose", draft.Name)
	v.porchctl("rpkg", "approve", draft.Name)
	published := made(porchv1alpha1.PackageRevisionLifecyclePublished)
	porchFiles := v.draftResources(published.Name)

	// One command reads Porch's variant from the cluster.
	cmd := exec.CommandContext(ctx, plugin(t), "convert", "-n", ns, "--kubeconfig", env.Kubeconfig)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl forkline convert -n %s: %v\n%s", ns, err, stderr.String())
	}
	t.Logf("$ kubectl forkline convert -n %s\n%s%s", ns, out, stderr.String())
	mustContain(t, "the converted variant", string(out), "# converted from Porch PackageVariant ho-e2e/app-edge", "revision: v1.21.2", "repo: ho-porch", "env: edge")
	// docs/migrating.md, step 1: adopt what Porch's variant made.
	converted := strings.Replace(string(out), "adoptionPolicy: adoptNone", "adoptionPolicy: adoptExisting", 1)
	// The same intent into a branch of its own shows forkline's package.
	fresh := strings.NewReplacer("name: app-edge", "name: app-edge-fresh", "repo: ho-porch", "repo: ho-forkline").Replace(string(out))

	// Step 3: orphan Porch's variant, then delete it.
	if out, err := env.Kubectl(ctx, "patch", "packagevariants.config.porch.kpt.dev", "app-edge", "-n", ns, "--type=merge", "-p", `{"spec":{"deletionPolicy":"orphan"}}`); err != nil {
		t.Fatalf("orphaning Porch's variant: %v\n%s", err, out)
	}
	if out, err := env.Kubectl(ctx, "delete", "packagevariants.config.porch.kpt.dev", "app-edge", "-n", ns, "--timeout=60s"); err != nil {
		t.Fatalf("deleting Porch's variant: %v\n%s", err, out)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(published), &porchv1alpha1.PackageRevision{}); err != nil {
		t.Fatalf("the revision Porch's variant made is gone after its orphaning deletion: %v", err)
	}

	// Step 4: apply; forkline adopts and is up to date, with no draft.
	for name, text := range map[string]string{"forkline.yaml": converted, "fresh.yaml": fresh} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := env.Kubectl(ctx, "apply", "-f", path); err != nil {
			t.Fatalf("applying %s: %v\n%s", name, err, out)
		}
	}
	stop := startManager(t)
	defer stop()
	adopted := v.waitVariant("adopted Porch's revision, on v1.21.2", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.21.2" && meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate)
	})
	t.Logf("app-edge after the handover: %s", readyOf(adopted).Message)
	time.Sleep(3 * time.Second) // a second draft would show by now
	var revisions []string
	for _, pr := range v.downstreamOf("ho-porch") {
		if pr.Spec.PackageName == "app" && !porch.Placeholder(&pr) {
			revisions = append(revisions, fmt.Sprintf("%s (%s)", pr.Name, pr.Spec.Lifecycle))
		}
	}
	if len(revisions) != 1 {
		t.Errorf("ho-porch holds %v after the handover, want only Porch's published revision %s", revisions, published.Name)
	}

	// The same intent, cloned by forkline into its own branch: the same files.
	freshVariant := &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKey{Namespace: ns, Name: "app-edge-fresh"}}
	proposal := freshVariant.waitVariant("the fresh branch proposed v1.21.2", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	forklineFiles := v.draftResources(proposal.Status.Sync.Draft)
	for name, content := range porchFiles {
		if name == "Kptfile" {
			continue // names its own package and workspace
		}
		if forklineFiles[name] != content {
			t.Errorf("%s differs between Porch's variant and forkline:\n--- porch\n%s\n--- forkline\n%s", name, content, forklineFiles[name])
		}
	}
	for name := range forklineFiles {
		if _, ok := porchFiles[name]; !ok {
			t.Errorf("forkline's package has %s, Porch's has not", name)
		}
	}

	// forkline follows from there: the next release is one draft on top.
	if out, err := env.Kubectl(ctx, "patch", "fpv", "app-edge", "-n", ns, "--type=merge", "-p", `{"spec":{"upstream":{"revision":"v1.21.3"}}}`); err != nil {
		t.Fatalf("moving the adopted variant to v1.21.3: %v\n%s", err, out)
	}
	next := v.waitVariant("v1.21.3 proposed on top of Porch's revision", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.3"))
	t.Logf("app-edge: %s", readyOf(next).Message)
	revisions = nil
	for _, pr := range v.downstreamOf("ho-porch") {
		if pr.Spec.PackageName == "app" && !porch.Placeholder(&pr) {
			revisions = append(revisions, fmt.Sprintf("%s (%s)", pr.Name, pr.Spec.Lifecycle))
		}
	}
	if len(revisions) != 2 {
		t.Errorf("ho-porch holds %v, want Porch's published revision and forkline's one proposal", revisions)
	}
}

// porchVariantStatus is what Porch's PackageVariant says, for a failure.
func porchVariantStatus(ctx context.Context, ns string) string {
	out, err := env.Kubectl(ctx, "get", "packagevariants.config.porch.kpt.dev", "-n", ns, "-o", "yaml")
	if err != nil {
		return err.Error()
	}
	return out
}
