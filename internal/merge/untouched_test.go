package merge

import (
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUntouchedFilesMergeAsAnyOther: leaving the files upstream did not
// touch out of base and upstream changes nothing of a result, on the
// goldens, on random edits under every policy, and where an identity is
// held twice.
func TestUntouchedFilesMergeAsAnyOther(t *testing.T) {
	type input struct {
		name    string
		b, u, d Tree
	}
	var inputs []input
	for name, in := range goldenInputs(t) {
		inputs = append(inputs, input{name, in[0], in[1], in[2]})
	}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		base := randomPackage(r)
		inputs = append(inputs, input{"random", toTree(t, base), toTree(t, edit(r, base, "up")), toTree(t, edit(r, base, "down"))})
	}
	cm := func(name, value string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  k: " + value + "\n"
	}
	inputs = append(inputs,
		// The same ConfigMap in a.yaml, which upstream leaves alone, and
		// in b.yaml, which it changes; downstream edits both copies.
		input{"twice",
			Tree{"a.yaml": cm("x", "1"), "b.yaml": cm("x", "1"), "c.yaml": cm("y", "1")},
			Tree{"a.yaml": cm("x", "1"), "b.yaml": cm("x", "2"), "c.yaml": cm("y", "1")},
			Tree{"a.yaml": cm("x", "3"), "b.yaml": cm("x", "4") + "---\n" + cm("z", "1"), "c.yaml": cm("y", "5")},
		},
		// Downstream moved x from b.yaml, which upstream changes, into a.yaml,
		// which it leaves alone.
		input{"moved-into",
			Tree{"a.yaml": cm("y", "1"), "b.yaml": cm("x", "1")},
			Tree{"a.yaml": cm("y", "1"), "b.yaml": cm("x", "2")},
			Tree{"a.yaml": cm("y", "1") + "---\n" + cm("x", "1")},
		},
		// Downstream copied x, which upstream leaves alone, into b.yaml, which
		// upstream changes.
		input{"copied",
			Tree{"a.yaml": cm("x", "1"), "b.yaml": cm("z", "1")},
			Tree{"a.yaml": cm("x", "1"), "b.yaml": cm("z", "2")},
			Tree{"a.yaml": cm("x", "1"), "b.yaml": cm("z", "1") + "---\n" + cm("x", "3")},
		},
		// Base holds x twice, in a.yaml (upstream leaves it alone) and
		// b.yaml (upstream changes it); downstream kept only b.yaml's copy.
		input{"twice-in-base",
			Tree{"a.yaml": cm("x", "1"), "b.yaml": cm("x", "1")},
			Tree{"a.yaml": cm("x", "1"), "b.yaml": cm("x", "2")},
			Tree{"b.yaml": cm("x", "1")},
		},
	)
	withUntouched := 0
	for _, in := range inputs {
		if len(untouchedFiles(in.b, in.u)) > 0 {
			withUntouched++
		}
		for _, policy := range []ConflictPolicy{Report, PreferUpstream, PreferDownstream} {
			got, err := resourceMerge(in.b, in.u, in.d, policy)
			if err != nil {
				t.Fatalf("%s, %s: %v", in.name, policy, err)
			}
			want, err := wholeMerge(in.b, in.u, in.d, policy)
			if err != nil {
				t.Fatalf("%s, %s, everything parsed: %v", in.name, policy, err)
			}
			if diff := cmp.Diff(want.Tree, got.Tree); diff != "" {
				t.Errorf("%s, %s: the result differs (-all parsed +untouched left out):\n%s", in.name, policy, diff)
			}
			if diff := cmp.Diff(want.Conflicts, got.Conflicts); diff != "" {
				t.Errorf("%s, %s: the conflicts differ (-all parsed +untouched left out):\n%s", in.name, policy, diff)
			}
			if err, whole := Audit(got), Audit(want); (err == nil) != (whole == nil) {
				t.Errorf("%s, %s: audit %v, of the whole merge %v", in.name, policy, err, whole)
			}
		}
	}
	if withUntouched < len(inputs)/4 {
		t.Fatalf("only %d of %d inputs have a file upstream left alone: the test compares too little", withUntouched, len(inputs))
	}
}

// TestUntouchedFilesAreNotParsed: a file upstream left alone is not merged
// (base's and upstream's copies are left out, the downstream's edit of it
// is the result as it is, unparsed); a file defining a CRD is merged all
// the same, since other files' lists merge by its schema.
func TestUntouchedFilesAreNotParsed(t *testing.T) {
	before := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: '1'}\n"
	edited := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: '2'}\n"
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget}
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        properties:
          spec:
            properties:
              parts:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [id]
`
	widget := func(parts string) string {
		return "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  parts:\n" + parts
	}
	b := Tree{"a.yaml": before, "crd.yaml": crd, "w.yaml": widget("  - {id: a, size: 1}\n  - {id: b, size: 1}\n")}
	u := Tree{"a.yaml": before, "crd.yaml": crd, "w.yaml": widget("  - {id: a, size: 2}\n  - {id: b, size: 1}\n")}
	d := Tree{"a.yaml": edited, "crd.yaml": crd, "w.yaml": widget("  - {id: a, size: 1}\n  - {id: b, size: 3}\n")}
	if got := untouchedFiles(b, u); len(got) != 1 || !got["a.yaml"] {
		t.Fatalf("untouched files: %v, want a.yaml alone", got)
	}
	res, err := Merge(b, u, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tree["a.yaml"] != edited {
		t.Errorf("a.yaml is not the downstream's:\n%s", res.Tree["a.yaml"])
	}
	if len(res.Conflicts) != 0 {
		t.Errorf("conflicts %v: the CRD's list key merges the parts element by element", res.Conflicts)
	}
	if err := Audit(res); err != nil {
		t.Errorf("audit: %v", err)
	}
	ok, err := SameContent("w.yaml", res.Tree["w.yaml"], widget("  - {id: a, size: 2}\n  - {id: b, size: 3}\n"))
	if err != nil || !ok {
		t.Errorf("w.yaml:\n%s", res.Tree["w.yaml"])
	}
	if _, ok := res.audit.verbatim["a.yaml"]; !ok {
		t.Error("the downstream's a.yaml was parsed: it holds nothing the rest of the merge holds")
	}
	changed := maps.Clone(res.Tree)
	changed["a.yaml"] += "# changed\n"
	if err := Audit(&Result{Tree: changed, audit: res.audit}); err == nil {
		t.Error("the audit passed a result that changed a file taken as the downstream has it")
	}
	if got, want := ParsedBytes(b, u, d), len("crd.yaml")*3+len(crd)*3+len("w.yaml")*3+len(b["w.yaml"])*2+len(d["w.yaml"]); got != want {
		t.Errorf("ParsedBytes = %d, want %d", got, want)
	}
}
