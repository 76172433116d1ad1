package convert

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// lookup knows one workspace, as a cluster would.
func lookup(namespace, repo, pkg, workspace string) string {
	if namespace == "platform" && repo == "catalog" && pkg == "app" && workspace == "ws-3" {
		return "v3"
	}
	return ""
}

// TestConvertGolden: each Porch input converts to the forkline objects in
// its golden file, with every field that did not convert named there.
func TestConvertGolden(t *testing.T) {
	for _, name := range []string{"variant-porch-v1.3", "variant-porch-v1.5", "variantset"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cs, err := Convert(in, lookup)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := Render(&out, cs); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./internal/convert -update writes it)", err)
			}
			if diff := cmp.Diff(string(want), out.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestConvertNamesWhatItCannot: the fields with no equivalent are named,
// each once, and nothing Porch set is silently dropped.
func TestConvertNamesWhatItCannot(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "variantset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Convert(in, lookup)
	if err != nil {
		t.Fatal(err)
	}
	lost := strings.Join(cs[0].Lost, "\n")
	for _, want := range []string{
		`labelExprs[1] (key: "cluster", valueExpr: "repository.name")`,
		`packageContext.dataExprs[0]`,
		`pipeline.mutators[0].configMapExprs[0]`,
		`injectors[0].nameExpr "repository.name + \"-config\""`,
		`spec.targets[2].template.downstream.packageExpr "target.metadata.name + \"-app\""`,
		`spec.targets[3]: objectSelector.name "one-branch" with no labels`,
	} {
		if !strings.Contains(lost, want) {
			t.Errorf("lost does not name %s:\n%s", want, lost)
		}
	}
	policy := cs[0].Object.(*v1.UpstreamPolicy)
	if got := policy.Spec.Targets[2].ObjectSelector.RepoField; got != "spec.repository" {
		t.Errorf("repoExpr target.spec.repository converted to repoField %q", got)
	}
	if len(policy.Spec.Targets) != 3 {
		t.Errorf("a target selecting one object by name only is converted (it would select every object): %d targets", len(policy.Spec.Targets))
	}
	if got := policy.Spec.Targets[1].Template.Labels; !cmp.Equal(got, map[string]string{"team": "fleet"}) {
		t.Errorf("a literal labelExpr converts as a label: %v", got)
	}
}

// TestConvertRefuses: input that is not Porch's, or that has a field
// Porch's types do not have, is an error naming the object.
func TestConvertRefuses(t *testing.T) {
	for file, want := range map[string]string{
		"not-porch.yaml": "PackageVariant platform/already-forkline (forkline.dev/v1alpha1): not a Porch PackageVariant or PackageVariantSet",
		"typo.yaml":      `PackageVariant platform/typo: json: unknown field "revison"`,
	} {
		in, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Convert(in, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", file, err, want)
		}
	}
}

// TestTargetField: only CEL that reads one field of the target converts.
func TestTargetField(t *testing.T) {
	for expr, want := range map[string]string{
		"target.spec.repo":         "spec.repo",
		" target.data.repo ":       "data.repo",
		"target.metadata.name":     "metadata.name",
		"target.spec.repo + \"x\"": "",
		"repository.name":          "",
		"target.":                  "",
		"target.labels[\"a\"]":     "",
		"":                         "",
	} {
		got, ok := targetField(expr)
		if ok != (want != "") || got != want {
			t.Errorf("targetField(%q) = %q, %v; want %q", expr, got, ok, want)
		}
	}
}
