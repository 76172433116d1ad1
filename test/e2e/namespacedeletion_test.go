package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/manager"
)

// deleteRecorder keeps the path of every DELETE a client sends.
type deleteRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (d *deleteRecorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodDelete {
			d.mu.Lock()
			d.paths = append(d.paths, req.URL.Path)
			d.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (d *deleteRecorder) of(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, p := range d.paths {
		if strings.HasSuffix(p, "/"+name) {
			out = append(out, p)
		}
	}
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestNamespaceDeletion tears a tenant down as a platform team does, with
// kubectl delete namespace, while forkline runs: the namespace holds
// variants, their Porch Repositories, forkline's open proposals and a
// person's own drafts. Published releases keep their git tags; forkline
// never deletes a person's draft, and its finalizer lets the namespace go.
// What Porch v1.3.0 itself does to drafts on a namespace deletion (the
// namespace controller deletes PackageRevisions through Porch, and a draft
// so deleted is deleted from git) is recorded here and in docs/packagevariant.md.
func TestNamespaceDeletion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const ns, upstreamRepo = "nsdel-e2e", "nsdel-upstream"
	branches := []string{"nsdel-a", "nsdel-b"}
	if err := smoke.PushUpstreamReleases(env, upstreamRepo, "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, upstreamRepo, "app", "v1.0.0", branches...)
	deletes := &deleteRecorder{}
	cfg := rest.CopyConfig(managerConfig)
	cfg.Wrap(deletes.wrap)
	stop := startManagerOn(t, cfg, manager.Options{})
	defer stop()

	var variants []*variantTest
	for _, b := range branches {
		v := createVariant(ctx, t, ns, newVariant(ns, b, upstreamRepo, b, "1.x", v1.DeletionDelete))
		got := v.waitVariant("v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
		v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
		v.waitVariant("on v1.0.0", 2*time.Minute, conditionIs(v1.ConditionUpToDate, "UpToDate"))
		variants = append(variants, v)
	}
	if err := smoke.PushUpstreamReleases(env, upstreamRepo, "app", "1.0.1"); err != nil {
		t.Fatal(err)
	}
	personal := map[string]string{} // branch: the person's draft
	for i, v := range variants {
		v.waitVariant("v1.0.1 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.1"))
		b := branches[i]
		v.porchctl("rpkg", "copy", latestDownstream(t, v.downstreamOf(b)).Name, "--workspace", "persons-own")
		for _, pr := range v.downstreamOf(b) {
			if pr.Spec.WorkspaceName == "persons-own" {
				personal[b] = pr.Name
				editDraft(v, pr.Name, "replicas: 1", "replicas: 5")
			}
		}
	}
	before := map[string]string{}
	for _, b := range branches {
		before[b] = lsRemote(t, b)
		t.Logf("%s before: %s", b, before[b])
	}

	if err := env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return err != nil && client.IgnoreNotFound(err) == nil, nil
	})
	if err != nil {
		nsObj := &corev1.Namespace{}
		_ = env.Client.Get(ctx, client.ObjectKey{Name: ns}, nsObj)
		t.Fatalf("namespace %s was not deleted: %v; its conditions: %+v", ns, err, nsObj.Status.Conditions)
	}

	deletes.mu.Lock()
	t.Logf("forkline's DELETEs during the test: %v", deletes.paths)
	deletes.mu.Unlock()
	for _, b := range branches {
		after := lsRemote(t, b)
		t.Logf("%s after: %s", b, after)
		mustContain(t, b+"'s git refs after the namespace deletion", after, "refs/tags/app/v1")
		if got := deletes.of(personal[b]); len(got) > 0 {
			t.Errorf("forkline deleted %s, a person's own draft: %v", personal[b], got)
		}
		if !strings.Contains(after, "drafts/app/persons-own") {
			t.Logf("%s: the person's draft %s is gone from git, deleted through Porch by the namespace controller (forkline sent it no DELETE)", b, personal[b])
		}
	}
}
