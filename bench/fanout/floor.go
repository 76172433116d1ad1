package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/porch"
)

// floor is the least a client can do for the same job, with the same Porch
// calls forkline makes and nothing else: no status, no events, no checks.
// A fan-out is a clone Draft created and proposed; an approval is one call;
// an upgrade is a copy of the published revision, the same 3-way merge
// written into it, and a proposal.
type floor struct {
	c        client.Client
	ns       string
	requests *verbs
}

func newFloor(cfg *rest.Config, ns string) (*floor, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // as controller-runtime's manager: no client-side limit
	requests := &verbs{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			requests.add(req.Method)
			return rt.RoundTrip(req)
		})
	})
	c, err := devstack.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &floor{c: c, ns: ns, requests: requests}, nil
}

// fanOut clones the upstream revision into package pkg of every repository
// and proposes each draft, width at a time.
func (f *floor) fanOut(ctx context.Context, repos []string, pkg string, upstream *porchv1alpha1.PackageRevision, width int) ([]*porchv1alpha1.PackageRevision, error) {
	out := make([]*porchv1alpha1.PackageRevision, len(repos))
	err := parallel(len(repos), width, func(i int) error {
		pr, err := f.create(ctx, repos[i], pkg, "v1", porch.CloneTask(upstream.Name))
		if err == nil {
			err = f.propose(ctx, pr)
		}
		out[i] = pr
		return err
	})
	return out, err
}

// approve publishes every proposal, width at a time.
func (f *floor) approve(ctx context.Context, prs []*porchv1alpha1.PackageRevision, width int) error {
	return parallel(len(prs), width, func(i int) error {
		pr := prs[i]
		pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecyclePublished
		if err := retrying(func() error { return f.c.SubResource("approval").Update(ctx, pr) }); err != nil {
			return fmt.Errorf("approving %s: %w", pr.Name, err)
		}
		return nil
	})
}

// upgrade copies each published revision into a new draft, writes the
// merge of upstream old → new into it and proposes it, width at a time.
// The upstream's two trees are read once: they are the same for all.
func (f *floor) upgrade(ctx context.Context, published []*porchv1alpha1.PackageRevision, from, to *porchv1alpha1.PackageRevision, width int) error {
	base, err := f.resources(ctx, from.Name)
	if err != nil {
		return err
	}
	up, err := f.resources(ctx, to.Name)
	if err != nil {
		return err
	}
	return parallel(len(published), width, func(i int) error {
		src := published[i]
		pr, err := f.create(ctx, src.Spec.RepositoryName, src.Spec.PackageName, "v2", porch.EditTask(src.Name))
		if err != nil {
			return err
		}
		prr := &porchv1alpha1.PackageRevisionResources{}
		if err := retrying(func() error { return f.c.Get(ctx, client.ObjectKeyFromObject(pr), prr) }); err != nil {
			return err
		}
		res, err := merge.Merge(base, up, prr.Spec.Resources, merge.Options{})
		if err != nil {
			return err
		}
		kf, err := porch.ParseKptfile(res.Tree[porch.KptfileName])
		if err != nil {
			return err
		}
		if err := kf.SetUpstream("app/"+porch.Revision(to), to.ResourceVersion); err != nil {
			return err
		}
		if res.Tree[porch.KptfileName], err = kf.String(); err != nil {
			return err
		}
		prr.Spec.Resources = res.Tree
		if err := retrying(func() error { return f.c.Update(ctx, prr) }); err != nil {
			return fmt.Errorf("writing %s: %w", pr.Name, err)
		}
		return f.propose(ctx, pr)
	})
}

func (f *floor) create(ctx context.Context, repo, pkg, ws string, tasks []porchv1alpha1.Task) (*porchv1alpha1.PackageRevision, error) {
	pr := &porchv1alpha1.PackageRevision{}
	pr.Namespace = f.ns
	pr.Spec = porchv1alpha1.PackageRevisionSpec{
		PackageName: pkg, RepositoryName: repo, WorkspaceName: ws,
		Lifecycle: porchv1alpha1.PackageRevisionLifecycleDraft, Tasks: tasks,
	}
	if err := retrying(func() error { return f.c.Create(ctx, pr) }); err != nil {
		return nil, fmt.Errorf("creating %s/%s %s: %w", repo, pkg, ws, err)
	}
	return pr, nil
}

// propose is one patch: no resourceVersion, so a write just before needs
// no fresh read.
func (f *floor) propose(ctx context.Context, pr *porchv1alpha1.PackageRevision) error {
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"lifecycle":"Proposed"}}`))
	if err := retrying(func() error { return f.c.Patch(ctx, pr, patch) }); err != nil {
		return fmt.Errorf("proposing %s: %w", pr.Name, err)
	}
	return nil
}

func (f *floor) resources(ctx context.Context, name string) (merge.Tree, error) {
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := retrying(func() error { return f.c.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: name}, prr) }); err != nil {
		return nil, err
	}
	return prr.Spec.Resources, nil
}

// verbs counts requests by HTTP method.
type verbs struct {
	mu     sync.Mutex
	counts map[string]float64
}

func (v *verbs) add(method string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.counts == nil {
		v.counts = map[string]float64{}
	}
	v.counts[method]++
}

func (v *verbs) snapshot() map[string]float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]float64{}
	for k, n := range v.counts {
		out[k] = n
	}
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// retrying retries a call the aggregated Porch API answered "currently
// unable to handle the request" (it is briefly unavailable under load), as
// porchctl and kubectl users do; the retries are counted as requests.
func retrying(call func() error) error {
	return retry.OnError(wait.Backoff{Steps: 8, Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1}, func(err error) bool {
		return apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err)
	}, call)
}
