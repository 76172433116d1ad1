// Resolving the release: what the variant should be on next.
//
// resolve reads the upstream's published releases and the downstream's
// revisions through the cache's indexes, records what a person approved
// since the last look, and picks the target release (release.Select) or,
// with none, says why the variant is idle. It decides nothing about drafts:
// findDraft takes the target from here.

package packagevariant

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
	"github.com/forkline/forkline/internal/status"
	"github.com/forkline/forkline/internal/upstream"
)

// resolve reads the upstream's releases and the downstream's state through
// the cache's indexes and picks the target.
func (r *Reconciler) resolve(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv := s.pv
	var up porchv1alpha1.PackageRevisionList
	if err := r.client.List(ctx, &up, client.InNamespace(pv.Namespace),
		client.MatchingFields{indexPackage: packageKey(pv.Spec.Upstream.Repo, pv.Spec.Upstream.Package)}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing upstream revisions: %w", err)
	}
	var revisions []release.Revision
	for _, pr := range up.Items {
		if rel, ok := releaseOf(&pr); ok {
			s.upstream = append(s.upstream, pr)
			revisions = append(revisions, rel)
		}
	}
	s.revisions = revisions
	if len(revisions) == 0 {
		stall(s, "UpstreamNotFound", fmt.Sprintf("no published revision of package %q in Repository %q%s", pv.Spec.Upstream.Package, pv.Spec.Upstream.Repo, r.whyNoRelease(ctx, s)))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}

	var down porchv1alpha1.PackageRevisionList
	if err := r.client.List(ctx, &down, client.InNamespace(pv.Namespace),
		client.MatchingFields{indexPackage: packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing downstream revisions: %w", err)
	}
	s.downstream = down.Items
	byName(s.downstream)
	s.published = porch.LatestPublished(s.downstream)
	s.current = upstreamRevisionOf(s.published)
	if res, err := r.checkRecordedRelease(ctx, s); err != nil || s.done {
		return res, err
	}
	if err := r.checkSoleWriter(ctx, s); err != nil || s.done {
		return ctrl.Result{}, err
	}
	if err := r.claim(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.watchHealth(ctx, s); err != nil || s.done {
		return ctrl.Result{}, err
	}
	if rb := pv.Status.RollbackTo; rb != "" && s.track.Pin == nil {
		s.track.Pin = &release.Pin{Revision: rb} // an automatic rollback is taken like a pin
	}

	sel, err := release.Select(s.track, s.current, revisions, s.now)
	var notPublished *release.NotPublishedError
	if errors.As(err, &notPublished) {
		// A new release wakes the variant (its PackageRevision's event).
		stall(s, "ReleaseNotFound", err.Error())
		return ctrl.Result{}, nil
	}
	if err != nil {
		stall(s, "InvalidSpec", err.Error())
		return ctrl.Result{}, nil
	}
	s.selection = sel
	r.recordPublished(s)
	st := &v1.UpstreamStatus{Current: s.current, LatestMatching: sel.LatestMatching, Available: sel.Available}
	if sel.Target != nil {
		st.Target = sel.Target.Revision
	}
	pv.Status.Upstream = st

	// The package exists when a release of it is published, whatever its
	// version scheme (v1, or a person's git tag app/v0.9.0); the branch's
	// placeholder (main) is not a release.
	owned := slices.ContainsFunc(s.downstream, func(pr porchv1alpha1.PackageRevision) bool { return ownedBy(&pr, pv) })
	exists := slices.ContainsFunc(s.downstream, func(pr porchv1alpha1.PackageRevision) bool {
		return porch.Published(&pr) && porch.Revision(&pr) != ""
	})
	if exists && !owned && pv.Spec.EffectiveAdoptionPolicy() == v1.AdoptNone {
		stall(s, "NotAdopted", fmt.Sprintf("package %q already exists in Repository %q and forkline did not create it; set adoptionPolicy: adoptExisting to take it over", pv.Spec.DownstreamPackage(), pv.Spec.Downstream.Repo))
		return ctrl.Result{}, nil
	}
	if exists && !owned && s.published != nil {
		foreign, err := r.clonedElsewhere(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		if foreign != "" {
			stall(s, "NotAdopted", foreign)
			return ctrl.Result{}, nil
		}
	}
	if sel.Target == nil && s.published != nil && hasMutations(pv) {
		if err := r.detectConfigDrift(ctx, s, revisions); err != nil {
			return ctrl.Result{}, err
		}
		sel = s.selection
		if sel.Target != nil {
			pv.Status.Upstream.Target = sel.Target.Revision
		}
	}
	if sel.Target == nil {
		var res ctrl.Result
		if !sel.RetryAt.IsZero() {
			res.RequeueAfter = sel.RetryAt.Sub(s.now) + time.Second
		}
		idle := idleStateOf(s.current, s.published, sel)
		setCondition(pv, v1.ConditionUpToDate, idle.outcome == status.Done, idle.reason, idle.message)
		if idle.reason == "PublishedWithConflicts" {
			setCondition(pv, v1.ConditionConflicted, true, idle.reason, idle.message)
		}
		s.end(idle.outcome, idle.reason, idle.message)
		return res, nil
	}
	s.key = sel.Target.Revision
	if s.configKey != "" {
		s.key = s.configKey
		setCondition(pv, v1.ConditionUpToDate, false, "ConfigChanged", "the variant's steps or injected config changed since the last published revision")
	} else {
		setCondition(pv, v1.ConditionUpToDate, false, "Behind", fmt.Sprintf("upstream %s is next (downstream on %q)", sel.Target.Revision, s.current))
	}
	return ctrl.Result{}, nil
}

// forklineOwns says whether a sync in this phase is forkline's to move on
// from; a person's decision (Declined, Edited), a conflict they hold and a
// failure they must fix are kept as they are.
func forklineOwns(p v1.SyncPhase) bool {
	return p == v1.PhaseMerging || p == v1.PhaseRendering || p == v1.PhaseProposed || p == v1.PhasePublished
}

// lostSync is the sync of forkline's own published revision when the
// status that held it was lost (its write lost a race with a newer one, so
// the variant still shows an older sync), rebuilt from the revision: the
// next record is then this one, not the stale one. nil when the revision
// is not forkline's or history already records it.
func lostSync(pv *v1.PackageVariant, published *porchv1alpha1.PackageRevision) *v1.SyncStatus {
	if !ownedBy(published, pv) || upstreamRevisionOf(published) == "" {
		return nil
	}
	downstream := packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())
	var from string
	for i, h := range pv.Status.History {
		if h.Downstream == downstream && h.Revision == porch.Revision(published) {
			return nil
		}
		if i == 0 {
			from = h.To
		}
	}
	started := published.CreationTimestamp
	pv.Status.Sync = &v1.SyncStatus{From: from, To: upstreamRevisionOf(published), Draft: published.Name, StartedAt: &started}
	return pv.Status.Sync
}

// releaseOf is an upstream revision as a release to select from; ok is
// false for one not published (a draft, the branch's placeholder).
func releaseOf(pr *porchv1alpha1.PackageRevision) (release.Revision, bool) {
	rev := porch.Revision(pr)
	if !porch.Published(pr) || rev == "" {
		return release.Revision{}, false
	}
	return release.Revision{Name: pr.Name, Revision: rev, Published: pr.Status.PublishedAt.Time}, true
}

// idleState is how a variant with no target release reads.
type idleState struct {
	outcome         status.Outcome
	reason, message string
}

// idleStateOf says why nothing is to be synced: no release taken yet, a
// release published with its conflicts open (a person must fix it), a
// release too new to take, or the downstream is up to date.
func idleStateOf(current string, published *porchv1alpha1.PackageRevision, sel release.Selection) idleState {
	msg := fmt.Sprintf("downstream is on upstream %s", current)
	switch {
	case sel.Waiting != "":
		msg = sel.Waiting
	case sel.Message != "":
		msg = sel.Message
	}
	switch {
	case current == "":
		return idleState{status.Waiting, "NothingToSync", msg}
	case gateFalse(published):
		return idleState{status.Stalled, "PublishedWithConflicts", publishedWithConflicts(published)}
	case sel.Waiting != "":
		return idleState{status.Waiting, "ReleaseTooNew", msg}
	}
	return idleState{status.Done, "UpToDate", msg}
}

// detectConfigDrift makes the current revision the target again, in a new
// workspace, when the variant's steps or injected config no longer match
// what is published: an injected ConfigMap changed, or the pipeline did.
func (r *Reconciler) detectConfigDrift(ctx context.Context, s *scope, revisions []release.Revision) error {
	published, err := r.resources(ctx, s.pv.Namespace, s.published.Name)
	if err != nil {
		return err
	}
	wanted := copyResources(published)
	if err := r.mutate(ctx, s.pv, wanted); err != nil {
		stall(s, "MutationFailed", err.Error())
		return nil
	}
	if sameResources(wanted, published) {
		return nil
	}
	for i := range revisions {
		if revisions[i].Revision == s.current {
			s.selection.Target = &revisions[i]
			s.configKey = s.current + "-config-" + porch.Hash(wanted)[:8]
			return nil
		}
	}
	return nil
}

// recordPublished notes a sync a person approved since the last reconcile.
func (r *Reconciler) recordPublished(s *scope) {
	pv := s.pv
	sync := pv.Status.Sync
	if s.published != nil && (sync == nil || sync.Draft != s.published.Name && forklineOwns(sync.Phase)) {
		sync = lostSync(pv, s.published)
	}
	if sync == nil || s.published == nil || s.published.Name != sync.Draft || sync.Phase == v1.PhasePublished {
		return
	}
	now := metav1.NewTime(s.now)
	sync.Phase, sync.FinishedAt, sync.Message = v1.PhasePublished, &now, "published as "+porch.Revision(s.published)
	sync.Conflicts, sync.ConflictCount = nil, 0
	if gateFalse(s.published) {
		r.event(pv, corev1.EventTypeWarning, "PublishedWithConflicts", "%s", publishedWithConflicts(s.published))
	}
	rec := v1.SyncRecord{From: sync.From, To: sync.To, Phase: v1.PhasePublished, Revision: porch.Revision(s.published), StartedAt: sync.StartedAt, FinishedAt: &now, ApprovedBy: "person",
		Downstream: packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}
	if s.published.Annotations[v1.AnnotationApprovedAt] != "" {
		rec.ApprovedBy = "forkline"
	}
	rec.Rollback = s.published.Annotations[v1.AnnotationRollbackOf] != ""
	rec.Commit = lockedCommit(s.published)
	rec.Hold = sync.Hold
	// Counted once the status records it: a reconcile reading a stale
	// variant sees the same publish again, and its status write fails.
	var sincePublished []float64
	for i := range s.upstream {
		up := &s.upstream[i]
		if porch.Revision(up) == sync.To && !up.Status.PublishedAt.IsZero() {
			sincePublished = append(sincePublished, s.now.Sub(up.Status.PublishedAt.Time).Seconds())
		}
	}
	s.onRecorded = append(s.onRecorded, func() {
		metrics.Approvals.WithLabelValues(rec.ApprovedBy).Inc()
		if rec.Rollback {
			metrics.Rollbacks.Inc()
		}
		for _, x := range sincePublished {
			metrics.ReleaseToPublished.Observe(x)
		}
	})
	pv.Status.History = append([]v1.SyncRecord{rec}, pv.Status.History...)
	if len(pv.Status.History) > 10 {
		pv.Status.History = pv.Status.History[:10]
	}
}

// clonedElsewhere says why a package forkline would adopt is not of the
// variant's upstream: its Kptfile names another git repository or
// directory. Its lock is no release of this upstream, so forkline must not
// read it as one (a "moved tag") nor merge this upstream into it. Judged
// once per commit of the revision; "" when it is this upstream's, or
// names none.
func (r *Reconciler) clonedElsewhere(ctx context.Context, s *scope) (string, error) {
	pv, pr := s.pv, s.published
	key := "adopt:" + pv.Namespace + "/" + pr.Name + "@" + pr.ResourceVersion + ":" + pv.Spec.Upstream.Repo + "/" + pv.Spec.Upstream.Package
	if known, ok := r.diagnosed.Get(key); ok {
		return known.(string), nil
	}
	files, err := r.resources(ctx, pv.Namespace, pr.Name)
	if err != nil {
		return "", err
	}
	verdict := ""
	if kf, err := porch.ParseKptfile(files[porch.KptfileName]); err == nil && s.upstreamRepo != nil && s.upstreamRepo.Spec.Git != nil {
		repo, dir := kf.UpstreamGit()
		wantRepo, wantDir := s.upstreamRepo.Spec.Git.Repo, upstream.Dir(s.upstreamRepo.Spec.Git.Directory, pv.Spec.Upstream.Package)
		if repo != "" && (normalGitURL(repo) != normalGitURL(wantRepo) || strings.Trim(dir, "/") != wantDir) {
			verdict = fmt.Sprintf("package %q in Repository %q was cloned from %s (directory %s), not from this variant's upstream %s (directory %s); forkline adopts only a package of its own upstream and writes nothing into this one: point spec.upstream at that package, or choose another downstream package",
				pv.Spec.DownstreamPackage(), pv.Spec.Downstream.Repo, repo, cmp.Or(strings.Trim(dir, "/"), "/"), wantRepo, cmp.Or(wantDir, "/"))
		}
	}
	r.diagnosed.Add(key, verdict)
	return verdict, nil
}

// normalGitURL drops what does not change which repository a URL names.
func normalGitURL(url string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(url), "/"), ".git")
}
