// Confirming the walk before a draft is created.
//
// An OldestFirst walk proposes the release right after the one the branch
// is on. The cache can trail Porch (right after a restart, or while an
// informer re-lists), and a release it does not show yet would be stepped
// over: a proposal that skips releases, which a fast approver could
// publish. So before forkline creates a draft for the next release, it
// asks Porch itself which releases it publishes, and waits while Porch
// names one the track takes first.

package packagevariant

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/forkline/forkline/internal/release"
	"github.com/forkline/forkline/internal/status"
)

// listingFresh is how long one Porch listing of an upstream package
// answers for every variant following it: a fan-out asks once.
const listingFresh = 3 * time.Second

// listings are recent Porch listings of upstream packages' releases.
type listings struct {
	mu sync.Mutex
	by map[string]listing // by namespace/repository/package
}

type listing struct {
	at        time.Time
	revisions []release.Revision
}

// confirmNext says whether the target is the next release by Porch's own
// listing, not only the cache's; false ends the reconcile, waiting.
func (r *Reconciler) confirmNext(ctx context.Context, s *scope) (bool, error) {
	if s.track.Order != release.OldestFirst || s.current == "" || s.track.Pin != nil || s.configKey != "" {
		return true, nil
	}
	revisions, err := r.upstreamListing(ctx, s)
	if err != nil {
		return false, err
	}
	sel, err := release.Select(s.track, s.current, revisions, s.now)
	if err != nil || sel.Target == nil || sel.Target.Revision == s.selection.Target.Revision {
		return true, nil // nothing Porch knows comes first
	}
	s.end(status.Progressing, "ReleaseNotCached", fmt.Sprintf("Porch publishes upstream %s, which comes before %s on the walk from %s; waiting for forkline's cache to show it before proposing anything", sel.Target.Revision, s.selection.Target.Revision, s.current))
	s.requeue = 2 * time.Second
	return false, nil
}

// upstreamListing is Porch's own list of the upstream package's published
// releases, shared for listingFresh between the variants following it
// while it holds the target.
func (r *Reconciler) upstreamListing(ctx context.Context, s *scope) ([]release.Revision, error) {
	up := s.pv.Spec.Upstream
	key := s.pv.Namespace + "/" + packageKey(up.Repo, up.Package)
	r.listings.mu.Lock()
	defer r.listings.mu.Unlock()
	target := s.selection.Target.Revision
	if l, ok := r.listings.by[key]; ok && s.now.Sub(l.at) < listingFresh &&
		slices.ContainsFunc(l.revisions, func(r release.Revision) bool { return r.Revision == target }) {
		return l.revisions, nil
	}
	var list porchv1alpha1.PackageRevisionList
	if err := r.reader.List(ctx, &list, client.InNamespace(s.pv.Namespace),
		client.MatchingFields{"spec.repository": up.Repo, "spec.packageName": up.Package}); err != nil {
		return nil, fmt.Errorf("listing upstream %s's releases in Porch: %w", up.Package, err)
	}
	var revisions []release.Revision
	for i := range list.Items {
		if rel, ok := releaseOf(&list.Items[i]); ok {
			revisions = append(revisions, rel)
		}
	}
	if r.listings.by == nil {
		r.listings.by = map[string]listing{}
	}
	r.listings.by[key] = listing{at: s.now, revisions: revisions}
	return revisions, nil
}
