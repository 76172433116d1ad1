package merge

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The conformance suite: kyaml's own 3-way merge test cases (the tables of
// yaml/merge3 and the package trees of kio/filters), converted into
// forkline cases under testdata/conformance/<case>/: base/, upstream/,
// downstream/, kyaml's answer in anchor/, where each came from in
// source.txt, and the class forkline's answer falls in, in class.txt:
//
//	agree             the same resources as kyaml's answer, no conflict
//	conflict-expected a conflict where both sides changed the same thing
//	                  differently and kyaml silently took one side
//	false-conflict    a conflict where kyaml's answer needed none
//	wrong             an answer that differs from kyaml's without a conflict,
//	                  or an error
//
// TestConformance fails when a case's class moves, and prints the table.
// `go test ./internal/merge -run TestConformance -import-kyaml` converts the
// cases again from the kyaml in the module cache; -update records the
// classes the engine gives now.
var importKyaml = flag.Bool("import-kyaml", false, "convert kyaml's merge3 test cases into testdata/conformance")

const conformanceDir = "testdata/conformance"

var classes = []string{"agree", "conflict-expected", "false-conflict", "wrong"}

func TestConformance(t *testing.T) {
	if *importKyaml {
		importKyamlCases(t)
	}
	entries, err := os.ReadDir(conformanceDir)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var notes, refused []string
	for _, e := range entries {
		dir := filepath.Join(conformanceDir, e.Name())
		class, detail, audit := classify(t, dir)
		counts[class]++
		if audit != nil {
			// The audit refuses a result before it is written: right for
			// a wrong one, a defect of the audit for any other.
			refused = append(refused, e.Name())
			detail += "; the audit refuses it: " + audit.Error()
			if class != "wrong" {
				t.Errorf("%s (%s): the audit refuses a right merge: %v", e.Name(), class, audit)
			}
		}
		if class != "agree" {
			notes = append(notes, fmt.Sprintf("%-18s %s: %s", class, e.Name(), detail))
		}
		file := filepath.Join(dir, "class.txt")
		if *update || *importKyaml {
			if err := os.WriteFile(file, []byte(class+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		recorded, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(string(recorded)); want != class {
			t.Errorf("%s: class %s, recorded %s (%s); rerun with -update if the move is right", e.Name(), class, want, detail)
		}
	}
	var table []string
	for _, c := range classes {
		table = append(table, fmt.Sprintf("%s %d", c, counts[c]))
	}
	t.Logf("kyaml conformance, %d cases: %s; the audit refuses %d (%s)\n%s", len(entries), strings.Join(table, ", "), len(refused), strings.Join(refused, ", "), strings.Join(notes, "\n"))
}

// classify merges one case and says how forkline's answer relates to
// kyaml's.
func classify(t *testing.T, dir string) (class, detail string, audit error) {
	t.Helper()
	res, err := Merge(readTree(t, dir, "base"), readTree(t, dir, "upstream"), readTree(t, dir, "downstream"), Options{})
	if err != nil {
		return "wrong", "error: " + err.Error(), nil
	}
	audit = Audit(res)
	if len(res.Conflicts) > 0 {
		var shown []string
		genuine := true
		for _, c := range res.Conflicts {
			shown = append(shown, c.String())
			if c.Base == c.Upstream || c.Base == c.Downstream || c.Upstream == c.Downstream {
				genuine = false
			}
		}
		if genuine {
			return "conflict-expected", strings.Join(shown, "; "), audit
		}
		return "false-conflict", strings.Join(shown, "; "), audit
	}
	anchor := readTree(t, dir, "anchor")
	if diff := differs(anchor, res.Tree); diff != "" {
		return "wrong", diff, audit
	}
	return "agree", "", audit
}

// differs names the files whose resources differ between kyaml's answer
// and forkline's (comments and formatting aside).
func differs(anchor, got Tree) string {
	var out []string
	for _, p := range unionPaths(anchor, got) {
		a, inA := anchor[p]
		g, inG := got[p]
		if inA != inG {
			out = append(out, fmt.Sprintf("%s: kyaml has it %v, forkline %v", p, inA, inG))
			continue
		}
		if same, err := SameContent(p, a, g); err != nil || !same {
			out = append(out, fmt.Sprintf("%s: kyaml\n%s\nforkline\n%s", p, a, g))
		}
	}
	return strings.Join(out, "; ")
}

// importKyamlCases rewrites testdata/conformance from the kyaml module.
func importKyamlCases(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kustomize/kyaml").Output()
	if err != nil {
		t.Fatalf("locating kyaml: %v", err)
	}
	kyaml := strings.TrimSpace(string(out))
	version, _ := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "sigs.k8s.io/kustomize/kyaml").Output()
	if err := os.RemoveAll(conformanceDir); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(kyaml, "yaml", "merge3", "*_test.go"))
	sort.Strings(files)
	for _, f := range files {
		for i, c := range tableCases(t, f) {
			name := fmt.Sprintf("merge3-%s-%02d", strings.TrimSuffix(filepath.Base(f), "_test.go"), i+1)
			source := fmt.Sprintf("kyaml %s yaml/merge3/%s, case %d: %s\n", strings.TrimSpace(string(version)), filepath.Base(f), i+1, c["description"])
			if c["infer"] == "true" {
				source += "kyaml infers list keys in this case (infer: true)\n"
			}
			writeCase(t, name, source, map[string]Tree{
				"base": single(c["origin"]), "upstream": single(c["update"]), "downstream": single(c["local"]), "anchor": single(c["expected"]),
			})
		}
	}
	for _, set := range []string{"testdata", "testdata2"} {
		root := filepath.Join(kyaml, "kio", "filters", set)
		trees := map[string]Tree{}
		for side, sub := range map[string]string{"base": "dataset1", "upstream": "dataset1-remoteupdates", "downstream": "dataset1-localupdates", "anchor": "dataset1-expected"} {
			tree, err := ReadDir(filepath.Join(root, sub))
			if err != nil {
				t.Fatal(err)
			}
			trees[side] = tree
		}
		source := fmt.Sprintf("kyaml %s kio/filters/%s: Merge3 of dataset1 (base), dataset1-remoteupdates (upstream), dataset1-localupdates (downstream), dataset1-expected (kyaml's answer)\n", strings.TrimSpace(string(version)), set)
		writeCase(t, "filters-"+set, source, trees)
	}
}

// tableCases reads the testCase literals of one kyaml test file: each
// field's value as written (raw strings unquoted; other expressions as
// source text).
func tableCases(t *testing.T, file string) []map[string]string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cases []map[string]string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		c := map[string]string{}
		for _, el := range lit.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			key, ok := kv.Key.(*ast.Ident)
			if !ok {
				continue
			}
			switch v := kv.Value.(type) {
			case *ast.BasicLit:
				s, err := strconv.Unquote(v.Value)
				if err != nil {
					t.Fatalf("%s: %v", fset.Position(v.Pos()), err)
				}
				c[key.Name] = s
			case *ast.Ident:
				c[key.Name] = v.Name
			default:
				c[key.Name] = "<expression>"
			}
		}
		if _, ok := c["origin"]; ok {
			cases = append(cases, c)
			return false
		}
		return true
	})
	return cases
}

// single is a one-file package holding s, or an empty one.
func single(s string) Tree {
	if strings.TrimSpace(s) == "" {
		return Tree{}
	}
	return Tree{"resource.yaml": strings.TrimLeft(s, "\n")}
}

func writeCase(t *testing.T, name, source string, trees map[string]Tree) {
	dir := filepath.Join(conformanceDir, name)
	for side, tree := range trees {
		if err := os.MkdirAll(filepath.Join(dir, side), 0o755); err != nil {
			t.Fatal(err)
		}
		for p, content := range tree {
			target := filepath.Join(dir, side, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "source.txt"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
}
