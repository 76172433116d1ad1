package merge

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden expected/ trees and conflicts.yaml from the current engine")

// Each testdata/<case>/ holds base/, upstream/ and downstream/ package
// trees, optional options.yaml, and either expected/ plus conflicts.yaml or
// error.txt (a substring of the expected error).
func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() || c.Name() == "conformance" {
			continue
		}
		dir := filepath.Join("testdata", c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			var opts Options
			if b, err := os.ReadFile(filepath.Join(dir, "options.yaml")); err == nil {
				if err := yaml.UnmarshalStrict(b, &struct {
					Strategy       *Strategy       `json:"strategy"`
					ConflictPolicy *ConflictPolicy `json:"conflictPolicy"`
				}{&opts.Strategy, &opts.ConflictPolicy}); err != nil {
					t.Fatalf("options.yaml: %v", err)
				}
			}
			res, err := Merge(readTree(t, dir, "base"), readTree(t, dir, "upstream"), readTree(t, dir, "downstream"), opts)
			if wantErr, readErr := os.ReadFile(filepath.Join(dir, "error.txt")); readErr == nil {
				if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(string(wantErr))) {
					t.Fatalf("error = %v, want one containing %q", err, strings.TrimSpace(string(wantErr)))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := Audit(res); err != nil {
				t.Errorf("audit: %v", err)
			}
			if *update {
				writeGolden(t, dir, res)
			}
			if diff := cmp.Diff(readTree(t, dir, "expected"), res.Tree); diff != "" {
				t.Errorf("merged tree differs from expected/ (-want +got):\n%s", diff)
			}
			var want []Conflict
			if b, err := os.ReadFile(filepath.Join(dir, "conflicts.yaml")); err == nil {
				if err := yaml.UnmarshalStrict(b, &want); err != nil {
					t.Fatalf("conflicts.yaml: %v", err)
				}
			}
			if diff := cmp.Diff(want, res.Conflicts); diff != "" {
				t.Errorf("conflicts differ from conflicts.yaml (-want +got):\n%s", diff)
			}
		})
	}
}

func readTree(t testing.TB, dir, side string) Tree {
	t.Helper()
	tree, err := ReadDir(filepath.Join(dir, side))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return tree
}

func writeGolden(t *testing.T, dir string, res *Result) {
	t.Helper()
	expected := filepath.Join(dir, "expected")
	if err := os.RemoveAll(expected); err != nil {
		t.Fatal(err)
	}
	paths := make([]string, 0, len(res.Tree))
	for p := range res.Tree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		target := filepath.Join(expected, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, []byte(res.Tree[p]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conflicts := filepath.Join(dir, "conflicts.yaml")
	if len(res.Conflicts) == 0 {
		_ = os.Remove(conflicts)
		return
	}
	b, err := yaml.Marshal(res.Conflicts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conflicts, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
