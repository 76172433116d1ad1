package porch

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/forkline/forkline/internal/merge"
)

const cloned = `apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: app
upstream:
  type: git
  git:
    repo: http://127.0.0.1:1/upstream.git
    directory: app
    ref: app/v1.21.2
upstreamLock:
  type: git
  git:
    repo: http://127.0.0.1:1/upstream.git
    directory: app
    ref: app/v1.21.2
    commit: aaaa
pipeline:
  mutators:
  - name: set-labels
    image: gcr.io/kpt-fn/set-labels:v0.2.0
  - name: forkline.app.old.0
    image: ghcr.io/forkline/old:v0.1.0
`

func TestKptfileEdits(t *testing.T) {
	kf, err := ParseKptfile(cloned)
	if err != nil {
		t.Fatal(err)
	}
	if got := kf.UpstreamRef(); got != "app/v1.21.2" {
		t.Errorf("UpstreamRef() = %q", got)
	}
	if repo, dir := kf.UpstreamGit(); repo != "http://127.0.0.1:1/upstream.git" || dir != "app" {
		t.Errorf("UpstreamGit() = %q, %q", repo, dir)
	}
	if none, _ := ParseKptfile("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: app\n"); none != nil {
		if repo, _ := none.UpstreamGit(); repo != "" {
			t.Errorf("a package with no upstream: UpstreamGit() = %q", repo)
		}
	}
	if err := kf.SetUpstream("app/v1.21.3", "bbbb"); err != nil {
		t.Fatal(err)
	}
	if err := kf.SetGate(ConflictsGate, false, "Conflicts", "1 conflict"); err != nil {
		t.Fatal(err)
	}
	if err := kf.SetGate(ConflictsGate, true, "Resolved", "done"); err != nil {
		t.Fatal(err) // a second call updates the one condition
	}
	fn, _ := yaml.Parse("name: forkline.app.bump-version.0\nimage: ghcr.io/forkline/bump-version:v0.1.0\n")
	if err := kf.SetPipeline("app", []*yaml.RNode{fn}, nil, false); err != nil {
		t.Fatal(err)
	}
	out, err := kf.String()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ref: app/v1.21.3", "commit: bbbb", "repo: http://127.0.0.1:1/upstream.git",
		"- conditionType: forkline.dev/conflicts-resolved",
		"type: forkline.dev/conflicts-resolved", "status: \"True\"", "reason: Resolved",
		"name: set-labels", "name: forkline.app.bump-version.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Kptfile lacks %q:\n%s", want, out)
		}
	}
	for _, gone := range []string{"app/v1.21.2", "aaaa", "forkline.app.old.0", "status: \"False\""} {
		if strings.Contains(out, gone) {
			t.Errorf("Kptfile still has %q:\n%s", gone, out)
		}
	}
	if n := strings.Count(out, "conditionType: forkline.dev/conflicts-resolved"); n != 1 {
		t.Errorf("%d readiness gates, want 1", n)
	}
	if unmet := kf.UnmetGates(); len(unmet) != 0 {
		t.Errorf("unmet gates %+v, want none", unmet)
	}
}

// The variant's functions go first, as Porch's PackageVariant puts them,
// or last when asked; the package's own keep their order either way.
func TestPipelinePosition(t *testing.T) {
	for _, c := range []struct {
		last bool
		want []string
	}{
		{false, []string{"forkline.app.a.0", "forkline.app.b.1", "set-labels"}},
		{true, []string{"set-labels", "forkline.app.a.0", "forkline.app.b.1"}},
	} {
		kf, err := ParseKptfile(cloned)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := yaml.Parse("name: forkline.app.a.0\nimage: a\n")
		b, _ := yaml.Parse("name: forkline.app.b.1\nimage: b\n")
		if err := kf.SetPipeline("app", []*yaml.RNode{a, b}, nil, c.last); err != nil {
			t.Fatal(err)
		}
		seq, _ := kf.node.Pipe(yaml.Lookup("pipeline", "mutators"))
		var got []string
		for _, n := range seq.Content() {
			got = append(got, scalar(yaml.NewRNode(n), "name"))
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("last %v: mutators %v, want %v", c.last, got, c.want)
		}
	}
}

func TestUnmetGates(t *testing.T) {
	kf, err := ParseKptfile(`apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: app
info:
  readinessGates:
  - conditionType: config.injection.ConfigMap.region
  - conditionType: forkline.dev/conflicts-resolved
  - conditionType: example.com/reviewed
status:
  conditions:
  - type: config.injection.ConfigMap.region
    status: "False"
    reason: NoResourceSelected
    message: no injectors defined
  - type: forkline.dev/conflicts-resolved
    status: "True"
`)
	if err != nil {
		t.Fatal(err)
	}
	got := kf.UnmetGates()
	want := []Condition{
		{Type: "config.injection.ConfigMap.region", Status: "False", Reason: "NoResourceSelected", Message: "no injectors defined"},
		{Type: "example.com/reviewed"}, // a gate without its condition is unmet
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("UnmetGates() = %+v, want %+v", got, want)
	}
}

func TestConflictsFile(t *testing.T) {
	content, err := RenderConflicts("v1.21.2", "v1.21.3", []merge.Conflict{
		{File: "deployment.yaml", Resource: "apps/Deployment/default/app", Path: "spec.replicas", Base: "1", Upstream: "2", Downstream: "3"},
		{File: "README.md", Path: "lines 2-2", Base: "a", Upstream: "b", Downstream: "c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		content string
		want    int
		wantErr bool
	}{
		"fresh":           {content: content, want: 2},
		"one resolved":    {content: strings.Replace(content, "resolved: false", "resolved: true", 1), want: 1},
		"all resolved":    {content: strings.ReplaceAll(content, "resolved: false", "resolved: true"), want: 0},
		"mangled by hand": {content: "spec: [", wantErr: true},
		// A person's typo is not a resolution.
		"conflicts misspelled": {content: strings.Replace(content, "  conflicts:", "  conflict:", 1), wantErr: true},
		"resolved misspelled":  {content: strings.Replace(content, "resolved: false", "resolve: true", 1), wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n, err := Unresolved(tc.content)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if n != tc.want {
				t.Errorf("Unresolved() = %d, want %d", n, tc.want)
			}
		})
	}
}

func TestHash(t *testing.T) {
	a := Hash(map[string]string{"a": "1", "b": "2"})
	if a != Hash(map[string]string{"b": "2", "a": "1"}) {
		t.Error("hash depends on map order")
	}
	if a == Hash(map[string]string{"a": "1", "b": "3"}) || a == Hash(map[string]string{"a": "12", "b": ""}) {
		t.Error("different content, same hash")
	}
}

func TestSetPackageContext(t *testing.T) {
	const ctxFile = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kptfile.kpt.dev\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\ndata:\n  name: app\n  stale: x\n"
	cases := map[string]struct {
		data    map[string]string
		remove  []string
		want    []string
		gone    []string
		wantErr string
	}{
		"set and remove":        {data: map[string]string{"region": "eu", "tier": "1"}, remove: []string{"stale"}, want: []string{"region: eu", `tier: "1"`, "name: app"}, gone: []string{"stale"}},
		"the name is Porch's":   {data: map[string]string{"name": "other"}, wantErr: `cannot set "name"`},
		"nor can it be removed": {remove: []string{"name"}, wantErr: `cannot remove "name"`},
		"nor the package path":  {remove: []string{"package-path"}, wantErr: `cannot remove "package-path"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := map[string]string{PackageContextFile: ctxFile}
			err := SetPackageContext(res, tc.data, tc.remove)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(res[PackageContextFile], w) {
					t.Errorf("package context lacks %q:\n%s", w, res[PackageContextFile])
				}
			}
			for _, g := range tc.gone {
				if strings.Contains(res[PackageContextFile], g) {
					t.Errorf("package context still has %q", g)
				}
			}
		})
	}
	// As Porch's PackageVariant: a package outside a deployment
	// Repository has no package context to edit, and that is said.
	t.Run("a package without the file", func(t *testing.T) {
		res := map[string]string{}
		err := SetPackageContext(res, map[string]string{"a": "b"}, nil)
		if err == nil || !strings.Contains(err.Error(), `no "package-context.yaml"`) || len(res) != 0 {
			t.Errorf("err %v, resources %v", err, res)
		}
		if err := SetPackageContext(res, nil, nil); err != nil {
			t.Errorf("an empty packageContext: %v", err)
		}
	})
}

func TestDiagnose(t *testing.T) {
	kptfile := "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: app\n"
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
	}
	cases := map[string]struct {
		files map[string]string
		want  string // substring of the diagnosis; "" for none
	}{
		"fine":             {map[string]string{"Kptfile": kptfile, "a.yaml": cm("a"), "README.md": "# app\n"}, ""},
		"no Kptfile":       {map[string]string{"a.yaml": cm("a")}, "no Kptfile"},
		"unparsable":       {map[string]string{"Kptfile": kptfile, "broken.yaml": "kind: ConfigMap\ndata:\n  key: [unclosed\n"}, "file broken.yaml does not parse as YAML"},
		"binary":           {map[string]string{"Kptfile": kptfile, "logo.png": "\x89PNG\x00\xff\xfe"}, "file logo.png is binary"},
		"duplicate":        {map[string]string{"Kptfile": kptfile, "a.yaml": cm("x"), "b.yaml": cm("x")}, "v1/ConfigMap /x is defined twice, in a.yaml and b.yaml"},
		"not a resource":   {map[string]string{"Kptfile": kptfile, "list.yaml": "- a\n- b\n"}, "not a Kubernetes resource"},
		"multi-doc is ok":  {map[string]string{"Kptfile": kptfile, "all.yaml": cm("a") + "---\n" + cm("b")}, ""},
		"empty doc is ok":  {map[string]string{"Kptfile": kptfile, "all.yaml": "---\n" + cm("a")}, ""},
		"non-YAML ignored": {map[string]string{"Kptfile": kptfile, "script.sh": "echo [unclosed\n"}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := Diagnose(tc.files)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Diagnose = %v, want nothing", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Diagnose = %v, want %q", err, tc.want)
			}
		})
	}
}
