package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/porch"
)

// bigPackage is a package of n ConfigMaps in files of perFile each, about
// 1 KiB a ConfigMap; at release rel the first tenth of them say so (the
// release changes 10% of the resources, in the first files).
// Beside them, the shape of the nephio catalog's cluster-capi package: a
// file of CustomResourceDefinitions over 1 MB (its schema's descriptions
// name the release).
func bigPackage(n, perFile int, rel string) map[string]string {
	files := map[string]string{"Kptfile": fmt.Sprintf(smoke.KptfileTemplate, "big"), "crds/cluster-api-components.yaml": bigCRDs(rel)}
	filler := strings.Repeat("x", 1000)
	var b strings.Builder
	for i := range n {
		value := "1.0.0"
		if i < n/10 {
			value = rel
		}
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%05d\ndata:\n  release: %q\n  filler: %s\n---\n", i, value, filler)
		if (i+1)%perFile == 0 || i == n-1 {
			files[fmt.Sprintf("configmaps-%03d.yaml", i/perFile)] = b.String()
			b.Reset()
		}
	}
	return files
}

// bigCRDs is 8 CustomResourceDefinitions of 400 schema properties each,
// one file of about 1.3 MB.
func bigCRDs(rel string) string {
	var b strings.Builder
	for c := range 8 {
		fmt.Fprintf(&b, "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: kind%ds.cluster.x-k8s.io\nspec:\n  group: cluster.x-k8s.io\n  names: {kind: Kind%d, plural: kind%ds}\n  scope: Namespaced\n  versions:\n  - name: v1beta1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n", c, c, c)
		for p := range 400 {
			fmt.Fprintf(&b, "          field%03d:\n            type: string\n            description: %q\n", p, fmt.Sprintf("field %d of release %s: ", p, rel)+strings.Repeat("d", 330))
		}
		b.WriteString("---\n")
	}
	return b.String()
}

// TestBigPackageUpgrade upgrades a package of 5,000 ConfigMaps in 51 files
// and a 1.3 MB file of CRDs (6.9 MB) into 3 branches: the release changes
// 500 ConfigMaps (in the first 6 files) and the CRD file. Each branch's
// draft is created merged, in one request under the API server's 3 MiB
// limit that the package exceeds: Porch's copy of the published revision
// and forkline's merge as a patch task (a diff of each changed file). A
// person's edit of the third branch, published by hand before the
// release, is kept where the release does not touch it and shown as a
// conflict where it does.
func TestBigPackageUpgrade(t *testing.T) {
	if env.Bin.PorchVersion != devstack.PorchOlder {
		// Porch v1.5.8 renders and commits the whole package on every write
		// of its resources: a person's edit of this 6.9 MB package (the
		// test's own PackageRevisionResources update) ran past the API
		// server's 60 s request timeout. Measured, not yet met: the
		// whole suite runs on Porch v1.3.0 in make test.
		t.Skipf("the 6.9 MB package is not yet within Porch %s's request timeout; make test runs the whole suite on %s", env.Bin.PorchVersion, devstack.PorchOlder)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	const ns, upstreamRepo = "big-e2e", "big-upstream"
	v100, v110 := bigPackage(5000, 99, "1.0.0"), bigPackage(5000, 99, "1.1.0")
	size := 0
	for _, content := range v100 {
		size += len(content)
	}
	if size < 5_000_000 || len(v100) < 51 || len(v100["crds/cluster-api-components.yaml"]) < 1_000_000 {
		t.Fatalf("the fixture is %d bytes in %d files (CRDs %d bytes), want at least 5 MB in 51, and a file of CRDs over 1 MB", size, len(v100), len(v100["crds/cluster-api-components.yaml"]))
	}
	t.Logf("package: %d files, %.1f MB, 5000 ConfigMaps", len(v100), float64(size)/1e6)
	if err := env.PushReleases(upstreamRepo, "big", devstack.Release{Version: "1.0.0", Files: v100}); err != nil {
		t.Fatal(err)
	}
	branches := []string{"big-a", "big-b", "big-c"}
	registerRepos(ctx, t, ns, upstreamRepo, "big", "v1.0.0", branches...)
	stop := startManager(t)
	defer stop()
	// Its variants and repositories go with it, also when it fails: a
	// manager that later tests start (one killed every second or two) would
	// spend its life on 7 MB packages, and Porch would keep caching and
	// re-syncing them in every branch.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for _, b := range branches {
			if err := env.Client.Delete(ctx, &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: b}}); err != nil && !apierrors.IsNotFound(err) {
				t.Error(err)
			}
		}
		err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			var list v1.PackageVariantList
			err := env.Client.List(ctx, &list, client.InNamespace(ns))
			return err == nil && len(list.Items) == 0, nil
		})
		if err != nil {
			t.Errorf("the big package's variants were not deleted: %v", err)
		}
		for _, repo := range append([]string{upstreamRepo}, branches...) {
			if err := env.UnregisterRepository(ctx, ns, repo); err != nil {
				t.Error(err)
			}
		}
	}()
	var variants []*variantTest
	for _, b := range branches {
		pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: b}}
		pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: upstreamRepo, Package: "big"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.x"}}
		pv.Spec.Downstream = v1.Downstream{Repo: b}
		variants = append(variants, createVariant(ctx, t, ns, pv))
	}
	for _, v := range variants {
		got := v.waitVariant("v1.0.0 proposed", 3*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
		v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
		v.waitVariant("on v1.0.0", 2*time.Minute, conditionIs(v1.ConditionUpToDate, "UpToDate"))
	}
	// A person's fork of the third branch: a ConfigMap the release changes
	// (a conflict) and one it does not (kept), published by hand.
	edited := variants[2]
	edited.porchctl("rpkg", "copy", latestDownstream(t, edited.downstreamOf("big-c")).Name, "--workspace", "local")
	for _, pr := range edited.downstreamOf("big-c") {
		if pr.Spec.WorkspaceName == "local" {
			editFiles(t, ctx, ns, pr.Name, map[string][2]string{
				"configmaps-000.yaml": {"|cm-00000'\ndata:\n  release: \"1.0.0\"", "|cm-00000'\ndata:\n  release: \"local\""},
				"configmaps-050.yaml": {"|cm-04999'\ndata:\n  release: \"1.0.0\"", "|cm-04999'\ndata:\n  release: \"kept\""},
			})
			edited.porchctl("rpkg", "propose", pr.Name)
			edited.porchctl("rpkg", "approve", pr.Name)
		}
	}

	started := time.Now()
	if err := env.PushReleases(upstreamRepo, "big", devstack.Release{Version: "1.1.0", Files: v110}); err != nil {
		t.Fatal(err)
	}
	for i, v := range variants {
		phase, wantMoved, wantKept := v1.PhaseProposed, 500, 4500
		if v == edited {
			// cm-00000 is the conflict: the draft shows it, either side.
			phase, wantMoved, wantKept = v1.PhaseConflicted, 499, 4499
		}
		got := v.waitVariant("v1.1.0 "+string(phase), 5*time.Minute, func(pv *v1.PackageVariant) bool {
			if c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
				t.Fatalf("%s Stalled: %s: %s", pv.Name, c.Reason, c.Message)
			}
			return phaseIs(phase, "v1.1.0")(pv)
		})
		// One task per create (Porch v1.5.3+ refuses more): Porch's copy of
		// the published revision, the merge written into it after.
		if tasks := draftTasks(v, got.Status.Sync.Draft); len(tasks) == 0 || tasks[0] != porchv1alpha1.TaskTypeEdit {
			t.Errorf("%s's draft was made by tasks %v, want Porch's edit (copy) first", v.key.Name, tasks)
		}
		draft := v.draftResources(got.Status.Sync.Draft)
		// The first 500 ConfigMaps moved to 1.1.0, the rest did not.
		moved, kept := 0, 0
		for name, content := range draft {
			if name != porch.ConflictsFile {
				moved += strings.Count(content, `release: "1.1.0"`)
				kept += strings.Count(content, `release: "1.0.0"`)
			}
		}
		eitherSide := v == edited && moved == wantMoved+1
		if (moved != wantMoved && !eitherSide) || kept != wantKept {
			t.Errorf("%s's draft has %d ConfigMaps on 1.1.0 and %d on 1.0.0, want %d and %d", v.key.Name, moved, kept, wantMoved, wantKept)
		}
		if i == 2 {
			// The person's edit the release does not touch stands; the one
			// it does is shown, both sides, not resolved.
			mustContain(t, "the person's kept edit", draft["configmaps-050.yaml"], `release: "kept"`)
			mustContain(t, "the conflicts file", draft[porch.ConflictsFile], "cm-00000")
			if got.Status.Sync.ConflictCount != 1 {
				t.Errorf("%s: %d conflicts, want 1 (cm-00000's release)", v.key.Name, got.Status.Sync.ConflictCount)
			}
		}
		mustContain(t, "the proposal's CRDs", draft["crds/cluster-api-components.yaml"], "field 399 of release 1.1.0")
		wantFiles := len(v110)
		if v == edited {
			wantFiles++ // and the conflicts file
		}
		if len(draft) != wantFiles {
			t.Errorf("%s's draft holds %d files, want %d", v.key.Name, len(draft), wantFiles)
		}
	}
	t.Logf("upgrade of a %.1f MB package changing 500 of 5000 ConfigMaps and its CRDs, into 3 branches, tag push to all proposed (including Porch's repository sync): %s",
		float64(size)/1e6, time.Since(started).Round(100*time.Millisecond))
}

// draftTasks are the types of the tasks Porch records for a revision.
func draftTasks(v *variantTest, name string) []porchv1alpha1.TaskType {
	v.t.Helper()
	pr := &porchv1alpha1.PackageRevision{}
	if err := env.Client.Get(v.ctx, client.ObjectKey{Namespace: v.ns, Name: name}, pr); err != nil {
		v.t.Fatal(err)
	}
	var types []porchv1alpha1.TaskType
	for _, task := range pr.Spec.Tasks {
		types = append(types, task.Type)
	}
	return types
}
