package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"

	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/porch"
)

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/version: "1.21.2"
spec:
  template:
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.21.2
`

// TestFunctionsRenderOnPorch puts bump-version and lock-references in a
// downstream draft's Kptfile pipeline; Porch renders them through the
// function runner's exec runtime. Then a bad config shows in the render
// status.
func TestFunctionsRenderOnPorch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns = "default"
	if err := env.PushReleases("fn-upstream", "web", devstack.Release{Version: "1.21.3", Files: map[string]string{
		"Kptfile":         "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: web\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n",
		"deployment.yaml": webDeployment,
	}}); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"fn-upstream", "fn-downstream"} {
		if _, err := env.RegisterRepository(ctx, ns, repo, repo); err != nil {
			t.Fatal(err)
		}
	}
	upstream, err := env.WaitPackageRevision(ctx, ns, "fn-upstream", "web", time.Minute, devstack.Published("v1.21.3"))
	if err != nil {
		t.Fatal(err)
	}
	draft := &porchv1alpha1.PackageRevision{}
	draft.Namespace = ns
	draft.Spec = porchv1alpha1.PackageRevisionSpec{
		PackageName: "web", RepositoryName: "fn-downstream", WorkspaceName: "steps",
		Lifecycle: porchv1alpha1.PackageRevisionLifecycleDraft,
		Tasks:     porch.CloneTask(upstream.Name),
	}
	if err := env.Client.Create(ctx, draft); err != nil {
		t.Fatal(err)
	}

	withPipeline := func(kptfile, bumpConfig string) string {
		return strings.TrimRight(kptfile, "\n") + fmt.Sprintf(`
pipeline:
  mutators:
  - image: %s
    configMap:
      %s
  - image: %s
`, devstack.FunctionImage("bump-version"), bumpConfig, devstack.FunctionImage("lock-references"))
	}

	prr := resources(ctx, t, draft.Name)
	cloned := prr.Spec.Resources["Kptfile"]
	prr.Spec.Resources["Kptfile"] = withPipeline(cloned, "images: registry.example.com/web")
	if err := env.Client.Update(ctx, prr); err != nil {
		t.Fatalf("updating the draft: %v", err)
	}
	if rs := prr.Status.RenderStatus; rs.Err != "" || rs.Result.ExitCode != 0 {
		t.Fatalf("render failed: %q %+v", rs.Err, rs.Result)
	}
	rendered := resources(ctx, t, draft.Name).Spec.Resources
	deployment := rendered["deployment.yaml"]
	for _, want := range []string{"image: registry.example.com/web:1.21.3", "app.kubernetes.io/version: 1.21.3"} {
		if !strings.Contains(deployment, want) {
			t.Errorf("rendered deployment.yaml lacks %q (bump-version from the upstreamLock ref web/v1.21.3):\n%s", want, deployment)
		}
	}
	lock, ok := rendered["references.lock.yaml"]
	if !ok {
		t.Fatalf("no references.lock.yaml after render; files: %v", unionKeys(rendered))
	}
	for _, want := range []string{"kind: ReferenceLock", "image: registry.example.com/web:1.21.3", "ref: web/v1.21.3", "commit:"} {
		if !strings.Contains(lock, want) {
			t.Errorf("lock lacks %q:\n%s", want, lock)
		}
	}

	// A bad config: the render status says what is wrong.
	prr = resources(ctx, t, draft.Name)
	prr.Spec.Resources["Kptfile"] = withPipeline(cloned, "version: latest")
	err = env.Client.Update(ctx, prr)
	status := fmt.Sprintf("%v; %s", err, prr.Status.RenderStatus.Err)
	for _, r := range prr.Status.RenderStatus.Result.Items {
		for _, item := range r.Results {
			status += " " + item.Message
		}
	}
	if !strings.Contains(status, `version "latest" is not a semantic version`) {
		t.Errorf("the render status does not show the bad config; got: %s", status)
	}
	t.Logf("render status for the bad config: %s", status)
}
