package resolve

import (
	"strings"
	"testing"

	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/porch"
)

const draftDeploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  annotations:
    config.kubernetes.io/local-config: "false"
spec:
  replicas: 3 # ours
  template:
    spec:
      containers:
      - name: app
        image: app:ours
`

const upstreamDeploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: app
        image: app:2
`

func conflicted(t *testing.T) map[string]string {
	t.Helper()
	doc, err := porch.RenderConflicts("v1.0.0", "v1.1.0", []merge.Conflict{
		{File: "deploy.yaml", Resource: "apps/Deployment/default/app", Path: "spec.replicas", Base: "1", Upstream: "2", Downstream: "3"},
		{File: "deploy.yaml", Resource: "apps/Deployment/default/app", Path: "spec.template.spec.containers[name=app].image", Base: "app:1", Upstream: "app:2", Downstream: "app:ours"},
		{File: "deploy.yaml", Resource: "apps/Deployment/default/app", Path: "metadata.annotations.config.kubernetes.io/local-config", Base: "x", Upstream: "true", Downstream: "false"},
		{File: "README.md", Path: "lines 1-2", Base: "a", Upstream: "b", Downstream: "c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"deploy.yaml": draftDeploy, "README.md": "ours\n", porch.ConflictsFile: doc}
}

func TestApply(t *testing.T) {
	up := map[string]string{"deploy.yaml": upstreamDeploy, "README.md": "upstream's\n"}
	base := map[string]string{"deploy.yaml": strings.ReplaceAll(upstreamDeploy, "app:2", "app:1")}
	for _, tc := range []struct {
		name      string
		req       Request
		want      []string // substrings of deploy.yaml
		readme    string
		left      int
		wantError string
	}{
		{name: "take upstream, all", req: Request{Take: Upstream},
			want: []string{"replicas: 2", "image: app:2", `local-config: "true"`}, readme: "upstream's\n"},
		{name: "take upstream, one path", req: Request{Take: Upstream, Paths: []string{"spec.replicas"}},
			want: []string{"replicas: 2", "image: app:ours"}, readme: "ours\n", left: 3},
		{name: "take base for the image", req: Request{Take: Base, Paths: []string{"deploy.yaml:spec.template.spec.containers[name=app].image"}},
			want: []string{"replicas: 3", "image: app:1"}, readme: "ours\n", left: 3},
		{name: "take downstream for a file", req: Request{Take: Downstream, Paths: []string{"deploy.yaml"}},
			want: []string{"replicas: 3 # ours", "image: app:ours"}, readme: "ours\n", left: 1},
		{name: "a key with dots", req: Request{Take: Upstream, Paths: []string{"metadata.annotations.config.kubernetes.io/local-config"}},
			want: []string{`local-config: "true"`, "replicas: 3"}, readme: "ours\n", left: 3},
		{name: "set a value", req: Request{Set: map[string]string{"spec.replicas": "5"}},
			want: []string{"replicas: 5", "image: app:ours"}, readme: "ours\n", left: 3},
		{name: "set a line range", req: Request{Set: map[string]string{"README.md:lines 1-2": "x"}}, wantError: "whole resource or file"},
		{name: "an unknown path", req: Request{Take: Upstream, Paths: []string{"spec.nope"}}, wantError: `no conflict is "spec.nope"; the draft's are: deploy.yaml:spec.replicas`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Apply(conflicted(t), map[Side]map[string]string{Upstream: up, Base: base}, tc.req)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Files["deploy.yaml"], w) {
					t.Errorf("deploy.yaml lacks %q:\n%s", w, res.Files["deploy.yaml"])
				}
			}
			if res.Files["README.md"] != tc.readme {
				t.Errorf("README.md = %q, want %q", res.Files["README.md"], tc.readme)
			}
			if len(res.Left) != tc.left {
				t.Errorf("left %v, want %d", res.Left, tc.left)
			}
			n, err := porch.Unresolved(res.Files[porch.ConflictsFile])
			if err != nil || n != tc.left {
				t.Errorf("the conflicts file has %d unresolved (%v), want %d", n, err, tc.left)
			}
		})
	}
}
