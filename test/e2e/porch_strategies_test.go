package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/porch"
)

// strategyCases are merge golden cases, clean and conflicting, that
// TestPorchUpgradeStrategies puts through Porch's upgrade task.
var strategyCases = []string{
	"clean-field-changes", "associative-lists", "explicit-null", "kpt-merge-rename", "comments",
	"multiline-strings", "deletions", "added-both-sides", "crd-list-map-keys", "moved-file",
	"same-change-both-sides", "field-conflict", "atomic-list-conflict", "keyed-element-delete-modify",
}

// TestPorchUpgradeStrategies measures what Porch's own upgrade task does
// with its resource-merge and copy-merge strategies on each case, next to
// what forkline's merge does, and prints the table docs/migrating.md
// quotes. A measurement, not a check: make compare-porch runs it
// (FORKLINE_COMPARE_PORCH=1) on Porch v1.4+, whose upgrade task it is.
func TestPorchUpgradeStrategies(t *testing.T) {
	if os.Getenv("FORKLINE_COMPARE_PORCH") == "" {
		t.Skip("a measurement: make compare-porch runs it")
	}
	if env.Bin.PorchVersion == devstack.PorchOlder {
		t.Skip("Porch v1.3 has no upgrade task")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	const ns = "default"
	stageMergeCases(ctx, t, ns, "st-upstream", "st-downstream", strategyCases)
	rows := []string{"| case | forkline | Porch resource-merge | Porch copy-merge |", "|---|---|---|---|"}
	for _, name := range strategyCases {
		dir := filepath.Join(env.Root, "internal", "merge", "testdata", name)
		v1, err := env.WaitPackageRevision(ctx, ns, "st-upstream", name, time.Minute, devstack.Published("v1"))
		if err != nil {
			t.Fatal(err)
		}
		v2, err := env.WaitPackageRevision(ctx, ns, "st-upstream", name, time.Minute, devstack.Published("v2"))
		if err != nil {
			t.Fatal(err)
		}
		base := resources(ctx, t, v1.Name).Spec.Resources
		upstream := resources(ctx, t, v2.Name).Spec.Resources
		edits := readDir(t, filepath.Join(dir, "downstream"))
		row := []string{name, ""}
		for _, strategy := range []string{"resource-merge", "copy-merge"} {
			published, downstream, err := publishedFork(ctx, ns, name+"-"+strategy, v1.Name, edits)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if row[1] == "" {
				ours, err := merge.Merge(base, upstream, downstream, merge.Options{})
				row[1] = forklineVerdict(ours, err)
			}
			out, err := env.Porchctl(ctx, "rpkg", "upgrade", published, "--revision", "2", "--workspace", "up",
				"--strategy", strategy, "--namespace", ns)
			if err != nil {
				row = append(row, "fails: "+firstLineOf(strings.TrimSpace(out)))
				continue
			}
			fields := strings.Fields(strings.TrimSpace(out))
			result := resources(ctx, t, fields[len(fields)-1]).Spec.Resources
			ours, _ := merge.Merge(base, upstream, downstream, merge.Options{})
			row = append(row, porchVerdict(t, result, upstream, downstream, ours))
		}
		rows = append(rows, "| "+strings.Join(row, " | ")+" |")
	}
	t.Logf("what each does, per case (Porch %s):\n%s", env.Bin.PorchVersion, strings.Join(rows, "\n"))
}

// publishedFork is a downstream package cloned from the upstream revision,
// edited as the case's downstream, proposed and approved: what Porch's
// upgrade starts from.
func publishedFork(ctx context.Context, ns, pkg, from string, edits map[string]string) (published string, files map[string]string, err error) {
	draft := &porchv1alpha1.PackageRevision{}
	draft.Namespace = ns
	draft.Spec = porchv1alpha1.PackageRevisionSpec{
		PackageName: pkg, RepositoryName: "st-downstream", WorkspaceName: "fork",
		Lifecycle: porchv1alpha1.PackageRevisionLifecycleDraft,
		Tasks:     porch.CloneTask(from),
	}
	if err := env.Client.Create(ctx, draft); err != nil {
		return "", nil, err
	}
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: draft.Name}, prr); err != nil {
		return "", nil, err
	}
	for file, content := range edits {
		prr.Spec.Resources[file] = content
	}
	if err := env.Client.Update(ctx, prr); err != nil {
		return "", nil, err
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: draft.Name}, prr); err != nil {
		return "", nil, err
	}
	for _, verb := range []string{"propose", "approve"} {
		if out, err := env.Porchctl(ctx, "rpkg", verb, draft.Name, "--namespace", ns); err != nil {
			return "", nil, fmt.Errorf("porchctl rpkg %s: %w\n%s", verb, err, out)
		}
	}
	return draft.Name, prr.Spec.Resources, nil
}

func forklineVerdict(ours *merge.Result, err error) string {
	switch {
	case err != nil:
		return "refuses: " + firstLineOf(err.Error())
	case len(ours.Conflicts) > 0:
		return fmt.Sprintf("%d conflict(s) shown in the draft, both sides' values kept for a person", len(ours.Conflicts))
	default:
		return "merged, every edit of both sides kept"
	}
}

// porchVerdict says what Porch's result is, file by file, next to
// forkline's merge and the two sides.
func porchVerdict(t *testing.T, result, upstream, downstream map[string]string, ours *merge.Result) string {
	t.Helper()
	same := func(file, a, b string) bool {
		ok, err := merge.SameContent(file, withoutUpstreamIdentifier(a), b)
		return err == nil && ok
	}
	var notes []string
	for _, file := range unionKeys(result, ours.Tree, upstream, downstream) {
		if file == "Kptfile" {
			continue
		}
		got := result[file]
		switch {
		case same(file, got, ours.Tree[file]):
		case got == "" && ours.Tree[file] != "":
			notes = append(notes, file+" dropped")
		case same(file, got, upstream[file]) && !same(file, upstream[file], downstream[file]):
			notes = append(notes, file+" upstream's, the downstream's edit lost")
		case same(file, got, downstream[file]) && !same(file, upstream[file], downstream[file]):
			notes = append(notes, file+" downstream's, the upstream's change lost")
		default:
			notes = append(notes, file+" merged otherwise")
		}
	}
	sort.Strings(notes)
	switch {
	case len(notes) == 0 && len(ours.Conflicts) > 0:
		return "forkline's draft content, with no conflict shown"
	case len(notes) == 0:
		return "same as forkline"
	}
	return strings.Join(notes, "; ")
}
