package packagevariant

import (
	"context"
	"fmt"
	"slices"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/status"
)

// releaseListedWithin is how long Porch may go without listing a release
// forkline saw published before a person is asked: a re-registered
// Repository is Ready before Porch has listed its packages, and one
// listing takes up to a repository sync (a minute by default).
const releaseListedWithin = 2 * time.Minute

// recordedRelease is the newest release of the variant's downstream
// package its history says was published (its revision, e.g. "v3", and
// N), or "", -1.
func recordedRelease(pv *v1.PackageVariant) (string, int) {
	best, bestN := "", -1
	downstream := packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())
	for _, rec := range pv.Status.History {
		if rec.Phase != v1.PhasePublished || rec.Downstream != downstream {
			continue
		}
		if n := porch.ReleaseNumber(rec.Revision); n > bestN {
			best, bestN = rec.Revision, n
		}
	}
	return best, bestN
}

// newestListed is the highest vN among revisions, whatever their
// lifecycle (a release a person proposed for deletion is still listed).
func newestListed(prs []porchv1alpha1.PackageRevision) int {
	n := -1
	for i := range prs {
		n = max(n, revisionNumber(&prs[i]))
	}
	return n
}

// checkRecordedRelease keeps forkline from starting a package over when
// Porch momentarily lists less than the variant's history records: the
// downstream would read as empty (or older), and forkline would clone the
// upstream afresh, without the branch's published edits. The cache is
// checked against Porch first (it can miss a release Porch re-listed);
// what Porch itself does not list is waited for, then a person is asked.
func (r *Reconciler) checkRecordedRelease(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv := s.pv
	recorded, n := recordedRelease(pv)
	if n < 0 || newestListed(s.downstream) >= n {
		pv.Status.ReleaseMissingSince = nil
		return ctrl.Result{}, nil
	}
	var fresh porchv1alpha1.PackageRevisionList
	if err := r.reader.List(ctx, &fresh, client.InNamespace(pv.Namespace), client.MatchingFields{
		"spec.repository": pv.Spec.Downstream.Repo, "spec.packageName": pv.Spec.DownstreamPackage(),
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing downstream revisions in Porch: %w", err)
	}
	if newestListed(fresh.Items) >= n {
		s.downstream = fresh.Items
		byName(s.downstream)
		s.published = porch.LatestPublished(s.downstream)
		s.current = upstreamRevisionOf(s.published)
		pv.Status.ReleaseMissingSince = nil
		return ctrl.Result{}, nil
	}
	if takeRetry(pv) {
		// A person says the release is gone on purpose: history keeps only
		// what Porch lists, so the next reconcile does not stop again.
		listed := newestListed(fresh.Items)
		pv.Status.History = slices.DeleteFunc(pv.Status.History, func(rec v1.SyncRecord) bool {
			return porch.ReleaseNumber(rec.Revision) > listed
		})
		pv.Status.ReleaseMissingSince = nil
		r.event(pv, corev1.EventTypeNormal, "Retrying", "going on from what Porch lists of package %q without %s, as %s asked", pv.Spec.DownstreamPackage(), recorded, v1.AnnotationRetry)
		return ctrl.Result{}, nil
	}
	if pv.Status.ReleaseMissingSince == nil {
		now := metav1.NewTime(s.now)
		pv.Status.ReleaseMissingSince = &now
	}
	where := fmt.Sprintf("Porch does not list %s of package %q in Repository %q, which forkline saw published (status.history)", recorded, pv.Spec.DownstreamPackage(), pv.Spec.Downstream.Repo)
	if s.now.Sub(pv.Status.ReleaseMissingSince.Time) < releaseListedWithin {
		s.end(status.Progressing, "ReleaseNotListed", where+"; waiting for Porch to list the repository instead of starting the package over")
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if c := meta.FindStatusCondition(s.before, v1.ConditionStalled); c == nil || c.Reason != "ReleaseMissing" {
		r.event(pv, corev1.EventTypeWarning, "ReleaseMissing", "%s since %s", where, pv.Status.ReleaseMissingSince.UTC().Format(time.RFC3339))
	}
	stall(s, "ReleaseMissing", fmt.Sprintf("%s since %s; forkline does not start the package over by itself: if the release was deleted on purpose, set annotation %s on this PackageVariant to go on from what Porch lists",
		where, pv.Status.ReleaseMissingSince.UTC().Format(time.RFC3339), v1.AnnotationRetry))
	return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
}
