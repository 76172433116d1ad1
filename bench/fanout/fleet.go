package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
)

// fleetLabel marks the downstream Repositories the benchmark's policy
// selects.
const fleetLabel = "bench.forkline.dev/fleet"

// fleet is one namespace of the stack: an upstream package released as
// v1.0.0 (v1.1.0 later) and its downstream repositories.
type fleet struct {
	s         *devstack.Stack
	ns        string
	repos     []string // selected by the policy from the start
	late      string   // labelled once the rest is measured
	upstreams map[string]*porchv1alpha1.PackageRevision
	// objects is set for a scale run: the policy selects one ConfigMap
	// per variant, each naming a package in one of the repositories.
	objects bool
}

// packagesPerRepo is how many variants of a scale run share a downstream
// repository: Porch keeps every registered repository in sync, so a
// thousand variants live in twenty repositories.
const packagesPerRepo = 50

// newScaleFleet registers n/packagesPerRepo downstream repositories and n
// ConfigMaps, each naming a repository, a package and a track.
func newScaleFleet(ctx context.Context, s *devstack.Stack, ns string, n int) (*fleet, error) {
	f, err := newFleet(ctx, s, ns, 0)
	if err != nil {
		return nil, err
	}
	f.objects = true
	repos := (n + packagesPerRepo - 1) / packagesPerRepo
	for i := range repos {
		f.repos = append(f.repos, fmt.Sprintf("d%04d", i))
	}
	if err := parallel(repos, 8, func(i int) error {
		_, err := s.RegisterRepository(ctx, ns, f.repos[i], ns+"-"+f.repos[i])
		return err
	}); err != nil {
		return nil, err
	}
	return f, parallel(n, 8, func(i int) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("branch-%04d", i), Labels: map[string]string{fleetLabel: "yes"}},
			Data: map[string]string{"repo": f.repos[i/packagesPerRepo], "package": fmt.Sprintf("app-%04d", i), "versions": "1.x"}}
		return s.Client.Create(ctx, cm)
	})
}

// newFleet pushes the upstream and registers repos downstream
// repositories (and one more, unlabelled) with Porch, 8 at a time.
func newFleet(ctx context.Context, s *devstack.Stack, ns string, repos int) (*fleet, error) {
	f := &fleet{s: s, ns: ns, upstreams: map[string]*porchv1alpha1.PackageRevision{}}
	if err := devstack.EnsureNamespace(ctx, s.Client, ns); err != nil {
		return nil, err
	}
	up := ns + "-upstream"
	if err := smoke.PushUpstreamReleases(s, up, "app", "1.0.0"); err != nil {
		return nil, err
	}
	if _, err := s.RegisterRepository(ctx, ns, "upstream", up); err != nil {
		return nil, err
	}
	for i := range repos {
		f.repos = append(f.repos, fmt.Sprintf("d%04d", i))
	}
	f.late = "late"
	err := parallel(repos+1, 8, func(i int) error {
		name, labelled := f.late, false
		if i < repos {
			name, labelled = f.repos[i], true
		}
		repo, err := s.RegisterRepository(ctx, ns, name, ns+"-"+name)
		if err != nil {
			return err
		}
		return f.mark(ctx, repo, labelled)
	})
	if err != nil {
		return nil, err
	}
	if err := f.waitUpstream(ctx, "v1.0.0"); err != nil {
		return nil, err
	}
	return f, nil
}

// retire unregisters the fleet's repositories from Porch once its size is
// measured: Porch re-lists every registered repository, so the next size
// would otherwise pay for this one's (at N = 300, for all 411 of them).
// The variants stay, showing the missing repositories, at no cost.
func (f *fleet) retire(ctx context.Context) error {
	var repos configapi.RepositoryList
	if err := f.s.Client.List(ctx, &repos, client.InNamespace(f.ns)); err != nil {
		return err
	}
	return parallel(len(repos.Items), 8, func(i int) error {
		return client.IgnoreNotFound(f.s.Client.Delete(ctx, &repos.Items[i]))
	})
}

// mark sets the track annotation and, when selected, the fleet label.
func (f *fleet) mark(ctx context.Context, repo *configapi.Repository, selected bool) error {
	patch := client.MergeFrom(repo.DeepCopy())
	repo.Annotations = map[string]string{v1.DefaultVersionsAnnotation: "1.x"}
	if selected {
		repo.Labels = map[string]string{fleetLabel: "yes"}
	}
	return f.s.Client.Patch(ctx, repo, patch)
}

// waitUpstream waits until Porch lists the upstream's revision (v1.0.0, v1.1.0).
func (f *fleet) waitUpstream(ctx context.Context, revision string) error {
	pr, err := f.s.WaitPackageRevision(ctx, f.ns, "upstream", "app", 2*time.Minute, devstack.Published(revision))
	if err != nil {
		return err
	}
	f.upstreams[revision] = pr
	return nil
}

// release publishes v1.1.0 upstream and returns once a watch on Porch
// shows it, as forkline's informer sees it, with the moment the upgrade
// could start.
func (f *fleet) release(ctx context.Context) (time.Time, error) {
	c, err := devstack.NewWatchClient(f.s.Config)
	if err != nil {
		return time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w, err := c.Watch(ctx, &porchv1alpha1.PackageRevisionList{}, client.InNamespace(f.ns))
	if err != nil {
		return time.Time{}, err
	}
	defer w.Stop()
	if err := smoke.PushUpstreamReleases(f.s, f.ns+"-upstream", "app", "1.1.0"); err != nil {
		return time.Time{}, err
	}
	// The clock starts at whichever the watch shows first: the release, or
	// a draft forkline made for it (its informer may have seen it first).
	var started time.Time
	for ev := range w.ResultChan() {
		pr, ok := ev.Object.(*porchv1alpha1.PackageRevision)
		switch {
		case !ok:
		case pr.Spec.RepositoryName == "upstream" && devstack.Published("v1.1.0")(pr):
			f.upstreams["v1.1.0"] = pr
			if started.IsZero() {
				started = time.Now()
			}
			return started, nil
		case started.IsZero() && strings.HasPrefix(string(pr.Spec.WorkspaceName), "forkline-v1-1-0"):
			started = time.Now()
		}
	}
	return time.Time{}, fmt.Errorf("no watch event showed upstream v1.1.0: %w", ctx.Err())
}

// parallel runs do(0..n-1) on width workers and returns the first error.
func parallel(n, width int, do func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range width {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
