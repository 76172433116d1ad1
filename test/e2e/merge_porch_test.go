package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/porch"
)

// Conflict-free golden cases of the merge engine, compared with Porch: on
// Porch v1.4+ its upgrade task with the resource-merge strategy; on v1.3
// its update task, which re-clones the new upstream and replays the
// downstream's recorded patch on it. Left out, with what Porch v1.3.0's
// update does on them (make compare-porch measures v1.5.8's strategies on
// these and more):
//   - crd-list-map-keys: merges the custom resource's list as a whole and
//     takes upstream's, losing the downstream's rule (the engine keeps it);
//   - same-change-both-sides: the update fails ("error applying patch:
//     conflict: fragment line does not match src line");
//   - moved-file: the update fails ("patch specifies file "app.yaml" which
//     does not exist").
var porchComparisonCases = []string{
	"clean-field-changes",
	"associative-lists",
	"explicit-null",
	"kpt-merge-rename",
}

// TestMergeMatchesPorchUpdate runs each conflict-free golden case through
// Porch's own upgrade (v1.4+, resource-merge) or update (v1.3) on the real stack and through
// forkline's engine on the same three revisions read back from Porch, and
// compares the results resource by resource.
func TestMergeMatchesPorchUpdate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const ns = "default"
	stageMergeCases(ctx, t, ns, "cmp-upstream", "cmp-downstream", porchComparisonCases)

	for _, name := range porchComparisonCases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(env.Root, "internal", "merge", "testdata", name)
			v1, err := env.WaitPackageRevision(ctx, ns, "cmp-upstream", name, time.Minute, devstack.Published("v1"))
			if err != nil {
				t.Fatal(err)
			}
			v2, err := env.WaitPackageRevision(ctx, ns, "cmp-upstream", name, time.Minute, devstack.Published("v2"))
			if err != nil {
				t.Fatal(err)
			}
			draft := &porchv1alpha1.PackageRevision{}
			draft.Namespace = ns
			draft.Spec = porchv1alpha1.PackageRevisionSpec{
				PackageName: name, RepositoryName: "cmp-downstream", WorkspaceName: "cmp",
				Lifecycle: porchv1alpha1.PackageRevisionLifecycleDraft,
				Tasks:     porch.CloneTask(v1.Name),
			}
			if err := env.Client.Create(ctx, draft); err != nil {
				t.Fatal(err)
			}
			// The downstream's own edits, on top of Porch's clone (whose
			// Kptfile records the upstream).
			prr := resources(ctx, t, draft.Name)
			for file, content := range readDir(t, filepath.Join(dir, "downstream")) {
				prr.Spec.Resources[file] = content
			}
			if err := env.Client.Update(ctx, prr); err != nil {
				t.Fatal(err)
			}

			base := resources(ctx, t, v1.Name).Spec.Resources
			upstream := resources(ctx, t, v2.Name).Spec.Resources
			downstream := resources(ctx, t, draft.Name).Spec.Resources
			ours, err := merge.Merge(base, upstream, downstream, merge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(ours.Conflicts) > 0 {
				t.Fatalf("case should be conflict-free; engine reported %v", ours.Conflicts)
			}

			byPorch := resources(ctx, t, porchUpgrade(ctx, t, ns, draft)).Spec.Resources
			if !strings.Contains(byPorch["Kptfile"], name+"/v2") {
				t.Fatalf("Porch's update did not move the Kptfile to v2:\n%s", byPorch["Kptfile"])
			}
			compared := 0
			for _, file := range unionKeys(byPorch, ours.Tree) {
				if file == "Kptfile" {
					continue // upstream/upstreamLock are set by the caller, not the engine
				}
				same, err := merge.SameContent(file, withoutUpstreamIdentifier(byPorch[file]), ours.Tree[file])
				if err != nil {
					t.Fatal(err)
				}
				if !same {
					t.Errorf("%s: Porch and forkline differ\nPorch:\n%s\nforkline:\n%s", file, byPorch[file], ours.Tree[file])
				}
				compared++
			}
			if compared == 0 {
				t.Fatal("nothing was compared")
			}
		})
	}
}

// Porch's update stamps every resource with kpt's upstream-identifier
// annotation, a bookkeeping mark for later matching (forkline matches by
// the kpt-merge comment Porch also writes); it is not part of the merge
// result being compared. An annotations map left empty reads as absent.
var upstreamIdentifier = regexp.MustCompile(`(?m)^\s*internal\.kpt\.dev/upstream-identifier:.*\n`)

func withoutUpstreamIdentifier(content string) string {
	return upstreamIdentifier.ReplaceAllString(content, "")
}

// porchUpgrade has Porch merge upstream v2 into draft as a person would
// with porchctl, and names the revision holding Porch's result: Porch v1.3
// updates the draft in place (rpkg update); v1.4+ upgrades a published
// revision into a new draft (rpkg upgrade, strategy resource-merge).
func porchUpgrade(ctx context.Context, t *testing.T, ns string, draft *porchv1alpha1.PackageRevision) string {
	t.Helper()
	if env.Bin.PorchVersion == devstack.PorchOlder {
		if out, err := env.Porchctl(ctx, "rpkg", "update", draft.Name, "--revision", "v2", "--namespace", ns); err != nil {
			t.Fatalf("porchctl rpkg update: %v\n%s", err, out)
		}
		return draft.Name
	}
	for _, verb := range []string{"propose", "approve"} {
		if out, err := env.Porchctl(ctx, "rpkg", verb, draft.Name, "--namespace", ns); err != nil {
			t.Fatalf("porchctl rpkg %s: %v\n%s", verb, err, out)
		}
	}
	out, err := env.Porchctl(ctx, "rpkg", "upgrade", draft.Name, "--revision", "2", "--workspace", "cmp-upgrade",
		"--strategy", "resource-merge", "--namespace", ns)
	if err != nil {
		t.Fatalf("porchctl rpkg upgrade: %v\n%s", err, out)
	}
	// "<published> upgraded to <new draft>"
	fields := strings.Fields(strings.TrimSpace(out))
	if len(fields) < 4 || fields[len(fields)-2] != "to" {
		t.Fatalf("porchctl rpkg upgrade said %q, not which draft it made", out)
	}
	return fields[len(fields)-1]
}

// stageMergeCases publishes each merge golden case in upstream as
// releases v1 (its base) and v2 (its upstream), and registers upstream and
// downstream with Porch in ns: where Porch's merge and forkline's are
// compared.
func stageMergeCases(ctx context.Context, t *testing.T, ns, upstream, downstream string, cases []string) {
	t.Helper()
	for _, name := range cases {
		dir := filepath.Join(env.Root, "internal", "merge", "testdata", name)
		if err := env.PushReleases(upstream, name,
			devstack.Release{Version: "1", Files: withKptfile(name, readDir(t, filepath.Join(dir, "base")))},
			devstack.Release{Version: "2", Files: withKptfile(name, readDir(t, filepath.Join(dir, "upstream")))},
		); err != nil {
			t.Fatal(err)
		}
	}
	for _, repo := range []string{upstream, downstream} {
		if _, err := env.RegisterRepository(ctx, ns, repo, repo); err != nil {
			t.Fatal(err)
		}
	}
}

func resources(ctx context.Context, t *testing.T, name string) *porchv1alpha1.PackageRevisionResources {
	t.Helper()
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, prr); err != nil {
		t.Fatalf("reading resources of %s: %v", name, err)
	}
	return prr
}

func readDir(t *testing.T, root string) map[string]string {
	t.Helper()
	tree, err := merge.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// withKptfile makes a golden tree a Porch package.
func withKptfile(name string, files map[string]string) map[string]string {
	if _, ok := files["Kptfile"]; !ok {
		files["Kptfile"] = fmt.Sprintf("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: %s\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n", name)
	}
	return files
}

func unionKeys(maps ...map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}
