package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/manager"
	"github.com/forkline/forkline/internal/porch"
)

// TestWalkNeverSkipsAcrossRestarts restarts the manager again and again
// while an OldestFirst variant walks five releases, a person approving
// each proposal, and looks every 100 ms at what Porch holds: no draft or
// proposal is ever for a release past the next one.
func TestWalkNeverSkipsAcrossRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns = "walk-e2e"
	releases := []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5"}
	if err := smoke.PushUpstreamReleases(env, "walk-upstream", "app", releases...); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "walk-upstream", "app", "v1.0.5", "walk-down")
	// A shard of this one variant: twenty restarts re-read only it.
	shard := manager.Options{WatchLabelSelector: "forkline.dev/shard=walk-e2e"}
	stop := startManagerWith(t, shard)
	pv := newVariant(ns, "walk", "walk-upstream", "walk-down", "1.0.x", "")
	pv.Labels = map[string]string{"forkline.dev/shard": "walk-e2e"}
	pv.Spec.Pin = &v1.Pin{Revision: "v1.0.0", Reason: "start the walk at the first release"}
	v := createVariant(ctx, t, ns, pv)
	first := v.waitVariant("v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	v.porchctl("rpkg", "approve", first.Status.Sync.Draft)
	v.waitVariant("on v1.0.0", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.0.0"
	})

	// The watcher: every 100 ms, each draft of the variant must be for the
	// release right after the one the branch has published.
	next := map[string]string{}
	for i := 0; i+1 < len(releases); i++ {
		next["v"+releases[i]] = "v" + releases[i+1]
	}
	var mu sync.Mutex
	seen := map[string]bool{} // draft -> observed
	var skips []string
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for watch.Err() == nil {
			var list porchv1alpha1.PackageRevisionList
			if err := env.Client.List(watch, &list, client.InNamespace(ns)); err == nil {
				current := ""
				best := -1
				for _, pr := range list.Items {
					if pr.Spec.RepositoryName == "walk-down" && pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished {
						if n := porch.Number(&pr); n > best {
							best, current = n, upstreamOf(&pr)
						}
					}
				}
				mu.Lock()
				for _, pr := range list.Items {
					if pr.Spec.RepositoryName != "walk-down" || pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished || pr.Annotations[v1.AnnotationSync] == "" {
						continue
					}
					target := pr.Annotations[v1.AnnotationSync]
					if !seen[pr.Name+"@"+target] {
						seen[pr.Name+"@"+target] = true
					}
					if want := next[current]; current != "" && target != want && target != current {
						skips = append(skips, fmt.Sprintf("%s (%s) for %s while the branch is on %s (next is %s)", pr.Name, pr.Spec.Lifecycle, target, current, want))
					}
				}
				mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	// Unpin: the walk goes on; restart the manager around every approval.
	current := &v1.PackageVariant{}
	if err := env.Client.Get(ctx, v.key, current); err != nil {
		t.Fatal(err)
	}
	current.Spec.Pin = nil
	if err := env.Client.Update(ctx, current); err != nil {
		t.Fatal(err)
	}
	restarts := 0
	restart := func() {
		stop()
		stop = startManagerWith(t, shard)
		restarts++
	}
	for _, r := range releases[1:] {
		restart()
		got := v.waitVariant("v"+r+" proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v"+r))
		restart()
		v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
		restart()
		time.Sleep(300 * time.Millisecond)
		restart()
		v.waitVariant("on v"+r, 2*time.Minute, func(pv *v1.PackageVariant) bool {
			return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v"+r
		})
	}
	stopWatch()
	<-watched
	stop()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d manager restarts; %d drafts and proposals observed; %d skips", restarts, len(seen), len(skips))
	for _, s := range skips {
		t.Errorf("a draft skips a release: %s", s)
	}
}
