package merge

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goldenInputs are the resource-merge goldens' three trees, reused as
// inputs for the properties below.
func goldenInputs(t testing.TB) map[string][3]Tree {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][3]Tree{}
	for _, e := range entries {
		if e.Name() == "conformance" {
			continue // kyaml's cases: see TestConformance
		}
		dir := filepath.Join("testdata", e.Name())
		if _, err := os.Stat(filepath.Join(dir, "options.yaml")); err == nil {
			continue // another strategy or policy
		}
		if _, err := os.Stat(filepath.Join(dir, "error.txt")); err == nil {
			continue
		}
		out[e.Name()] = [3]Tree{readTree(t, dir, "base"), readTree(t, dir, "upstream"), readTree(t, dir, "downstream")}
	}
	return out
}

func mustMerge(t *testing.T, b, u, d Tree) *Result {
	t.Helper()
	res, err := Merge(b, u, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Audit(res); err != nil {
		t.Fatalf("audit: %v", err)
	}
	return res
}

// sameMeaning compares trees file by file, by meaning for KRM files.
func sameMeaning(t *testing.T, want, got Tree) {
	t.Helper()
	if diff := cmp.Diff(sortedKeys(want), sortedKeys(got)); diff != "" {
		t.Fatalf("files differ (-want +got):\n%s", diff)
	}
	for p := range want {
		same, err := SameContent(p, want[p], got[p])
		if err != nil {
			t.Fatal(err)
		}
		if !same {
			t.Errorf("%s differs in meaning:\nwant:\n%s\ngot:\n%s", p, want[p], got[p])
		}
	}
}

func sortedKeys(t Tree) []string {
	out := make([]string, 0, len(t))
	for k := range t {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestProperties(t *testing.T) {
	for name, in := range goldenInputs(t) {
		b, u, d := in[0], in[1], in[2]
		t.Run(name, func(t *testing.T) {
			t.Run("downstream unchanged takes upstream", func(t *testing.T) {
				res := mustMerge(t, b, u, b)
				if len(res.Conflicts) > 0 {
					t.Errorf("conflicts: %v", res.Conflicts)
				}
				// But for subpackages that follow their own upstream: those
				// stay as the downstream has them.
				own := ownPackages(b)
				sameMeaning(t, without(u, own), without(res.Tree, own))
				for fp, content := range without(u, own) {
					if res.Tree[fp] != content {
						t.Errorf("%s is not upstream's byte for byte:\n%s", fp, cmp.Diff(content, res.Tree[fp]))
					}
				}
				for fp, content := range b {
					if within(fp, own) && res.Tree[fp] != content {
						t.Errorf("%s, in a package of its own, changed:\n%s", fp, res.Tree[fp])
					}
				}
			})
			t.Run("upstream unchanged keeps downstream byte for byte", func(t *testing.T) {
				res := mustMerge(t, b, b, d)
				if len(res.Conflicts) > 0 {
					t.Errorf("conflicts: %v", res.Conflicts)
				}
				if diff := cmp.Diff(d, res.Tree); diff != "" {
					t.Errorf("(-downstream +merged):\n%s", diff)
				}
			})
			t.Run("same change on both sides is no conflict", func(t *testing.T) {
				for _, x := range []Tree{u, d} {
					res := mustMerge(t, b, x, x)
					if len(res.Conflicts) > 0 {
						t.Errorf("conflicts: %v", res.Conflicts)
					}
					if diff := cmp.Diff(x, res.Tree); diff != "" {
						t.Errorf("(-both +merged):\n%s", diff)
					}
				}
			})
			t.Run("conflicts are symmetric", func(t *testing.T) {
				forward := mustMerge(t, b, u, d).Conflicts
				backward := mustMerge(t, b, d, u).Conflicts
				for i := range backward {
					backward[i].Upstream, backward[i].Downstream = backward[i].Downstream, backward[i].Upstream
				}
				if diff := cmp.Diff(forward, backward); diff != "" {
					t.Errorf("swapping upstream and downstream changed the conflicts (-forward +swapped):\n%s", diff)
				}
			})
		})
	}
}

// FuzzMerge feeds arbitrary single-file packages: the engine must never
// panic, and where the inputs parse, the properties hold and every merge
// passes its audit, under every conflict policy.
func FuzzMerge(f *testing.F) {
	for _, in := range goldenInputs(f) {
		for p := range in[2] {
			f.Add(p, in[0][p], in[1][p], in[2][p])
		}
	}
	f.Add("x.yaml", "a: [", "{}", "- 1")
	f.Add("x.yaml", "apiVersion: v1\nkind: A\n---\n", "apiVersion: v1\nkind: A\nmetadata: &m {name: x}\nspec: *m\n", "--- !!null\n")
	f.Fuzz(func(t *testing.T, path, base, up, down string) {
		b, u, d := Tree{path: base}, Tree{path: up}, Tree{path: down}
		first, err := Merge(b, u, d, Options{})
		if err != nil {
			return // an error is fine; a panic is not
		}
		if err := Audit(first); err != nil {
			t.Errorf("audit: %v", err)
		}
		res, err := Merge(b, d, d, Options{})
		if err != nil {
			t.Fatalf("merge(b, d, d) failed after merge(b, u, d) succeeded: %v", err)
		}
		if len(res.Conflicts) > 0 {
			t.Errorf("merge(b, d, d) reported conflicts: %v", res.Conflicts)
		}
		for _, policy := range []ConflictPolicy{PreferUpstream, PreferDownstream} {
			res, err := Merge(b, u, d, Options{ConflictPolicy: policy})
			if err != nil {
				t.Errorf("%s: %v", policy, err)
				continue
			}
			if err := Audit(res); err != nil {
				t.Errorf("%s: audit: %v", policy, err)
			}
		}
	})
}
