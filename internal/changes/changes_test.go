package changes

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: %s
  template:
    spec:
      containers:
      - name: app
        image: %s
`

func dep(replicas, image string) string {
	return sprintf(deployment, replicas, image)
}

func sprintf(format string, args ...string) string {
	for _, a := range args {
		format = strings.Replace(format, "%s", a, 1)
	}
	return format
}

func cm(name, key, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  " + key + ": " + value + "\n"
}

func TestCompare(t *testing.T) {
	kptfile := func(ref string) string {
		return "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: app\nupstream:\n  git:\n    ref: app/" + ref + "\ninfo:\n  description: d\n"
	}
	upFrom := map[string]string{"deploy.yaml": dep("1", "app:1"), "README.md": "hello\n"}
	upTo := map[string]string{"deploy.yaml": dep("1", "app:2"), "README.md": "hello\n", "svc.yaml": cm("new", "k", "v")}
	published := map[string]string{
		"Kptfile":     kptfile("v1"),
		"deploy.yaml": dep("3", "app:1"), // the branch's own replicas
		"README.md":   "hello\n",
		"env.yaml":    cm("env", "region", "eu"), // injected
		"team.yaml":   cm("team", "owner", "a"),
		"old.yaml":    cm("old", "k", "v"),
	}
	proposed := map[string]string{
		"Kptfile":     kptfile("v2"),             // the lock moves with upstream
		"deploy.yaml": dep("3", "app:2"),         // upstream's image
		"README.md":   "hello\n",                 // untouched
		"env.yaml":    cm("env", "region", "us"), // injection changed
		"team.yaml":   cm("team", "owner", "b"),  // a person's push
		"svc.yaml":    cm("new", "k", "v"),       // upstream added
		"notes.txt":   "a person's notes\n",      // a person's new file
	}
	rep, err := Compare(Inputs{Published: published, Proposed: proposed, UpstreamFrom: upFrom, UpstreamTo: upTo, PersonFiles: []string{"team.yaml", "notes.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		ID      string
		Kind    Kind
		Fields  []Field
		Origins []Origin
	}
	var got []res
	for _, r := range rep.Resources {
		got = append(got, res{r.ID, r.Kind, r.Fields, r.Origins})
	}
	want := []res{
		{"apps/Deployment/default/app", Changed, []Field{{"spec.template.spec.containers[name=app].image", Changed, Upstream}}, []Origin{Upstream}},
		{"core/ConfigMap/default/env", Changed, []Field{{"data.region", Changed, Steps}}, []Origin{Steps}},
		{"core/ConfigMap/default/new", Added, nil, []Origin{Upstream}},
		{"core/ConfigMap/default/old", Removed, nil, []Origin{Steps}},
		{"core/ConfigMap/default/team", Changed, []Field{{"data.owner", Changed, Person}}, []Origin{Person}},
		{"kpt.dev/Kptfile/~C/app", Changed, []Field{{"upstream.git.ref", Changed, Upstream}}, []Origin{Upstream}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("resources (-want +got):\n%s", d)
	}
	files := map[string]Kind{}
	origins := map[string]Origin{}
	for _, f := range rep.Files {
		files[f.Name], origins[f.Name] = f.Kind, f.Origin
	}
	if d := cmp.Diff(map[string]Kind{"Kptfile": Changed, "deploy.yaml": Changed, "env.yaml": Changed, "team.yaml": Changed, "svc.yaml": Added, "old.yaml": Removed, "notes.txt": Added}, files); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
	if origins["notes.txt"] != Person || origins["svc.yaml"] != Upstream || origins["deploy.yaml"] != Upstream {
		t.Errorf("file origins: %v", origins)
	}
	for _, f := range rep.Files {
		if f.Name == "deploy.yaml" && !strings.Contains(f.Diff, "-        image: app:1\n+        image: app:2\n") {
			t.Errorf("deploy.yaml's diff:\n%s", f.Diff)
		}
	}
	if got, want := rep.Counts().Summary(), "6 resources: 1 added, 1 removed, 4 changed (upstream 3, steps 2, person 1)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		c    Counts
		want string
	}{
		{Counts{}, "no change"},
		{Counts{ResourcesChanged: 3, ByOrigin: map[Origin]int{Upstream: 2, Steps: 1}}, "3 resources changed (upstream 2, steps 1)"},
		{Counts{ResourcesAdded: 1, ByOrigin: map[Origin]int{Upstream: 1}}, "1 resource added (upstream 1)"},
		{Counts{FilesChanged: 2}, "2 files changed, no resource"},
	} {
		if got := tc.c.Summary(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
}
