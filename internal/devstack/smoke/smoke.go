// Package smoke is the foundation's end-to-end flow on the real stack, the
// way a person would do it by hand: upstream releases as git tags, two Porch
// repositories, a clone Draft edited, proposed and approved, and the result
// checked in the downstream git repository. The e2e test and `make demo`
// both run it.
package smoke

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/porch"
)

// Namespace is where the flow registers its repositories.
const Namespace = "default"

// Result is what the flow produced, for the caller to check or show.
type Result struct {
	UpstreamRevisions []string // published upstream revisions of app, as Porch lists them
	Draft             string   // the clone Draft's PackageRevision name
	Published         string   // the downstream revision Porch assigned on approval
	DownstreamTags    string   // git ls-remote --tags of the downstream repository
	PublishedManifest string   // app/deployment.yaml at the published tag
}

// Run performs the flow. Every step that a person would check is checked;
// the first failure is returned.
func Run(ctx context.Context, s *devstack.Stack, logf func(string, ...any)) (*Result, error) {
	res := &Result{}

	logf("1. upstream git repository with releases app/v1.21.2 and app/v1.21.3")
	if err := PushUpstreamReleases(s, "upstream", "app", "1.21.2", "1.21.3"); err != nil {
		return nil, err
	}

	logf("2. register Porch repositories upstream and downstream")
	for _, name := range []string{"upstream", "downstream"} {
		if _, err := s.RegisterRepository(ctx, Namespace, name, name); err != nil {
			return nil, err
		}
	}

	logf("3. wait for Porch to list the upstream tags as Published revisions")
	var upstream *porchv1alpha1.PackageRevision
	for _, rev := range []string{"v1.21.2", "v1.21.3"} {
		pr, err := s.WaitPackageRevision(ctx, Namespace, "upstream", "app", 60*time.Second, devstack.Published(rev))
		if err != nil {
			return nil, err
		}
		res.UpstreamRevisions = append(res.UpstreamRevisions, porch.Revision(pr))
		upstream = pr
	}
	logf("   upstream revisions: %s (clone source %s)", strings.Join(res.UpstreamRevisions, ", "), upstream.Name)

	logf("4. clone v1.21.3 into a Draft in downstream")
	draft := &porchv1alpha1.PackageRevision{}
	draft.Namespace = Namespace
	draft.Spec = porchv1alpha1.PackageRevisionSpec{
		PackageName:    "app",
		RepositoryName: "downstream",
		WorkspaceName:  "smoke-v1-21-3",
		Lifecycle:      porchv1alpha1.PackageRevisionLifecycleDraft,
		Tasks:          porch.CloneTask(upstream.Name),
	}
	if err := s.Client.Create(ctx, draft); err != nil {
		return nil, fmt.Errorf("creating clone Draft: %w", err)
	}
	res.Draft = draft.Name
	logf("   draft %s", draft.Name)

	logf("5. change the Draft through PackageRevisionResources (replicas 1 -> 3)")
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: draft.Name}, prr); err != nil {
		return nil, fmt.Errorf("reading Draft resources: %w", err)
	}
	kptfile := prr.Spec.Resources["Kptfile"]
	if !strings.Contains(kptfile, "upstreamLock:") || !strings.Contains(kptfile, "app/v1.21.3") {
		return nil, fmt.Errorf("clone Draft's Kptfile lacks an upstreamLock at app/v1.21.3:\n%s", kptfile)
	}
	manifest, ok := prr.Spec.Resources["deployment.yaml"]
	if !ok || !strings.Contains(manifest, "replicas: 1") {
		return nil, fmt.Errorf("clone Draft lacks deployment.yaml with replicas: 1; files: %v", keys(prr.Spec.Resources))
	}
	prr.Spec.Resources["deployment.yaml"] = strings.Replace(manifest, "replicas: 1", "replicas: 3", 1)
	if err := s.Client.Update(ctx, prr); err != nil {
		return nil, fmt.Errorf("updating Draft resources: %w", err)
	}

	logf("6. porchctl rpkg propose, then approve")
	for _, verb := range []string{"propose", "approve"} {
		out, err := s.Porchctl(ctx, "rpkg", verb, draft.Name, "--namespace", Namespace)
		if err != nil {
			return nil, err
		}
		logf("   %s", strings.TrimSpace(out))
	}
	published, err := s.WaitPackageRevision(ctx, Namespace, "downstream", "app", 60*time.Second,
		func(pr *porchv1alpha1.PackageRevision) bool {
			return pr.Name == draft.Name && pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished
		})
	if err != nil {
		return nil, err
	}
	res.Published = porch.Revision(published)

	logf("7. check the downstream git repository over HTTP")
	tags, err := devstack.GitOutput("", "ls-remote", "--tags", s.Git.RepoURL("downstream"))
	if err != nil {
		return nil, err
	}
	res.DownstreamTags = strings.TrimSpace(tags)
	tag := "app/" + res.Published
	if !strings.Contains(tags, "refs/tags/"+tag) {
		return nil, fmt.Errorf("downstream has no tag %s after approval; ls-remote:\n%s", tag, tags)
	}
	clone := filepath.Join(s.Dir, "smoke-downstream")
	if err := devstack.Git("", "clone", "--quiet", s.Git.RepoURL("downstream"), clone); err != nil {
		return nil, err
	}
	shown, err := devstack.GitOutput(clone, "show", tag+":app/deployment.yaml")
	if err != nil {
		return nil, err
	}
	res.PublishedManifest = shown
	if !strings.Contains(shown, "replicas: 3") {
		return nil, fmt.Errorf("published %s does not carry the Draft's change (replicas: 3):\n%s", tag, shown)
	}
	logf("   downstream tag %s holds replicas: 3", tag)
	return res, nil
}

// PushUpstreamReleases publishes package pkg of the git repository name at
// each version, setting the app image tag and version label to it.
func PushUpstreamReleases(s *devstack.Stack, name, pkg string, versions ...string) error {
	releases := make([]devstack.Release, 0, len(versions))
	for _, v := range versions {
		releases = append(releases, devstack.Release{Version: v, Files: map[string]string{
			"Kptfile":         fmt.Sprintf(KptfileTemplate, pkg),
			"deployment.yaml": fmt.Sprintf(DeploymentTemplate, pkg, v),
		}})
	}
	return s.PushReleases(name, pkg, releases...)
}

// KptfileTemplate is a release's Kptfile: package name.
const KptfileTemplate = `apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: %s
  annotations:
    config.kubernetes.io/local-config: "true"
info:
  description: an upstream package released by semver tags
`

// DeploymentTemplate is a release's deployment: package name, then version.
const DeploymentTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/version: "%[2]s"
spec:
  replicas: 1
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      containers:
      - name: %[1]s
        image: registry.example.com/%[1]s:%[2]s
`

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
