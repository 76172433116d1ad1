package packagevariant

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
	"github.com/forkline/forkline/internal/status"
)

// conflictPoll is how often a conflicted draft is re-read: Porch v1.3.0
// sends no watch event when someone pushes new resources to a draft.
const conflictPoll = 10 * time.Second

// draftVisibleWithin is how long Porch may take to serve a draft it just
// created; a draft still missing after that was deleted.
const draftVisibleWithin = 30 * time.Second

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
		if pr.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecyclePublished || pr.Spec.Revision == "" {
			continue
		}
		s.upstream = append(s.upstream, pr)
		revisions = append(revisions, release.Revision{Name: pr.Name, Revision: pr.Spec.Revision, Published: pr.Status.PublishedAt.Time})
	}
	if len(revisions) == 0 {
		stall(s, "UpstreamNotFound", fmt.Sprintf("no published revision of package %q in Repository %q", pv.Spec.Upstream.Package, pv.Spec.Upstream.Repo))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}

	var down porchv1alpha1.PackageRevisionList
	if err := r.client.List(ctx, &down, client.InNamespace(pv.Namespace),
		client.MatchingFields{indexPackage: packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing downstream revisions: %w", err)
	}
	s.downstream = down.Items
	byName(s.downstream)
	s.published = latestPublished(s.downstream)
	s.current = upstreamRevisionOf(s.published)
	if res, err := r.checkRecordedRelease(ctx, s); err != nil || s.done {
		return res, err
	}
	if res, err := r.checkSoleWriter(ctx, s); err != nil || s.done {
		return res, err
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
		return pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished && releaseRevision.MatchString(pr.Spec.Revision)
	})
	if exists && !owned && pv.Spec.EffectiveAdoptionPolicy() == v1.AdoptNone {
		stall(s, "NotAdopted", fmt.Sprintf("package %q already exists in Repository %q and forkline did not create it; set adoptionPolicy: adoptExisting to take it over", pv.Spec.DownstreamPackage(), pv.Spec.Downstream.Repo))
		return ctrl.Result{}, nil
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
		msg := fmt.Sprintf("downstream is on upstream %s", s.current)
		switch {
		case sel.Waiting != "":
			msg = sel.Waiting
		case sel.Message != "":
			msg = sel.Message
		}
		switch {
		case s.current == "":
			setCondition(pv, v1.ConditionUpToDate, false, "NothingToSync", msg)
			s.end(status.Waiting, "NothingToSync", msg)
		case gateFalse(s.published):
			msg = publishedWithConflicts(s.published)
			setCondition(pv, v1.ConditionUpToDate, false, "PublishedWithConflicts", msg)
			setCondition(pv, v1.ConditionConflicted, true, "PublishedWithConflicts", msg)
			stall(s, "PublishedWithConflicts", msg)
		case sel.Waiting != "":
			setCondition(pv, v1.ConditionUpToDate, false, "ReleaseTooNew", msg)
			s.end(status.Waiting, "ReleaseTooNew", msg)
		default:
			setCondition(pv, v1.ConditionUpToDate, true, "UpToDate", msg)
			s.end(status.Done, "UpToDate", msg)
		}
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
	if sync == nil || s.published == nil || s.published.Name != sync.Draft || sync.Phase == v1.PhasePublished {
		return
	}
	now := metav1.NewTime(s.now)
	sync.Phase, sync.FinishedAt, sync.Message = v1.PhasePublished, &now, "published as "+s.published.Spec.Revision
	sync.Conflicts, sync.ConflictCount = nil, 0
	if gateFalse(s.published) {
		r.event(pv, corev1.EventTypeWarning, "PublishedWithConflicts", "%s", publishedWithConflicts(s.published))
	}
	rec := v1.SyncRecord{From: sync.From, To: sync.To, Phase: v1.PhasePublished, Revision: s.published.Spec.Revision, StartedAt: sync.StartedAt, FinishedAt: &now, ApprovedBy: "person",
		Downstream: packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}
	if s.published.Annotations[v1.AnnotationApprovedAt] != "" {
		rec.ApprovedBy = "forkline"
	}
	rec.Rollback = s.published.Annotations[v1.AnnotationRollbackOf] != ""
	rec.Hold = sync.Hold
	// Counted once the status records it: a reconcile reading a stale
	// variant sees the same publish again, and its status write fails.
	var sincePublished []float64
	for _, up := range s.upstream {
		if up.Spec.Revision == sync.To && !up.Status.PublishedAt.IsZero() {
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

// findDraft finds the target's draft among the variant's own, by the sync
// it holds; moves older untouched drafts out of the way (an edited one
// stops the variant: a person's work is never deleted); and creates the
// draft in a free workspace unless a person declined this sync. Sets the
// sync phase Failed (an edited older draft), Declined, or Merging.
func (r *Reconciler) findDraft(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv, target := s.pv, s.selection.Target
	for i := range s.downstream {
		pr := &s.downstream[i]
		if !isOurDraft(pr, pv) {
			continue
		}
		if porch.Terminating(pr) {
			if res, stop, err := r.collected(ctx, s, pr); err != nil || stop {
				return res, err
			}
			continue
		}
		if pr.Annotations[v1.AnnotationSync] == s.key {
			s.draft = pr
			continue
		}
		if lostSyncRecord(pr, s) {
			if err := r.restoreSyncRecord(ctx, pr, s.key); err != nil {
				return ctrl.Result{}, err
			}
			s.draft = pr
			continue
		}
		edited, err := r.editedByPerson(ctx, pr)
		if err != nil {
			return ctrl.Result{}, err
		}
		if edited {
			setPhase(s, v1.PhaseEdited, fmt.Sprintf("upstream moved to %s, but draft %s was edited by a person; forkline leaves it: publish or delete it to continue", target.Revision, pr.Name))
			pv.Status.Sync.EditedByPerson = true
			s.done = true
			return ctrl.Result{RequeueAfter: conflictPoll}, nil
		}
		if deleted, err := r.deleteOwnDraft(ctx, s, pr); err != nil || !deleted {
			return ctrl.Result{RequeueAfter: time.Second}, err
		}
		r.event(pv, corev1.EventTypeNormal, "DraftMoved", "draft %s for an older upstream revision, untouched, replaced by one for %s", pr.Name, target.Revision)
	}
	if s.draft != nil {
		return ctrl.Result{}, nil
	}
	if res, declined, err := r.checkDeleted(ctx, s); err != nil || declined {
		return res, err
	}
	ws := freeWorkspace(release.Workspace(s.key), s.downstream)
	created, err := r.createDraft(ctx, s, ws)
	switch {
	case err != nil && strings.Contains(err.Error(), "workspaceNames must be unique"):
		return r.takenWorkspace(ctx, s, ws)
	case err != nil && status.Classify(err).Outcome == status.Unavailable:
		return ctrl.Result{}, err // an outage: retried with backoff
	case apierrors.IsInternalError(err) || apierrors.IsBadRequest(err) || apierrors.IsInvalid(err):
		// Porch refused the package itself: retrying will not help; a new
		// upstream release or a spec change (both events) will.
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("Porch refused the draft for upstream %s: %s; fix that revision of the upstream package (or publish a new one) or change the variant's spec",
			target.Revision, r.diagnose(ctx, s, err)))
		s.done = true
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	s.draft = created
	return ctrl.Result{}, nil
}

// takenWorkspace handles Porch refusing a workspace the cache shows free.
// Usually the cache has not yet seen a draft created a moment ago. But a
// create cut off half-way (a manager killed mid-request) leaves a draft
// Porch pushed and never announced: no watch event will ever bring it to
// the cache, and Porch lists it only once its repository sync recorded it.
// So the workspace is looked up in Porch itself, and what holds it is
// taken as findDraft takes what the cache shows (a draft with no metadata
// at all in forkline's workspace is the variant's; anything else gets the
// next workspace).
func (r *Reconciler) takenWorkspace(ctx context.Context, s *scope, ws string) (ctrl.Result, error) {
	var list porchv1alpha1.PackageRevisionList
	if !s.lookedUp { // looked up once already: what Porch holds is not listed
		if err := r.reader.List(ctx, &list, client.InNamespace(s.pv.Namespace), client.MatchingFields{
			"spec.repository": s.pv.Spec.Downstream.Repo, "spec.packageName": s.pv.Spec.DownstreamPackage(), "spec.workspaceName": ws,
		}); err != nil {
			return ctrl.Result{}, fmt.Errorf("looking up workspace %s in Porch: %w", ws, err)
		}
	}
	if len(list.Items) == 0 {
		if sync := s.pv.Status.Sync; sync != nil && sync.Draft == "" {
			s.pv.Status.Sync = nil // a refused create's record: the condition says what happens now
		}
		s.end(status.Progressing, "DraftNotListed", fmt.Sprintf("Porch holds workspace %s for a draft it does not list yet (its create was cut off half-way); waiting for Porch's repository sync to record it", ws))
		s.done = true
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	s.lookedUp = true
	pr := list.Items[0]
	if err := r.claimRevision(ctx, s, &pr); err != nil {
		return ctrl.Result{}, err
	}
	log.FromContext(ctx).Info("found a revision the cache never showed", "revision", pr.Name, "workspace", ws, "ours", ownedBy(&pr, s.pv))
	s.downstream = append(s.downstream, pr)
	return r.findDraft(ctx, s)
}

// collected handles a draft of the variant that is being deleted though
// nobody deleted it (a person's deletion of a draft without finalizers is
// immediate): the garbage collector took Porch's record of the draft while
// Porch briefly lost it. forkline finishes deleting its own untouched
// draft and goes on in a new one; a draft a person edited or holds with a
// finalizer stays as it is, and the variant waits for them (Edited).
func (r *Reconciler) collected(ctx context.Context, s *scope, pr *porchv1alpha1.PackageRevision) (ctrl.Result, bool, error) {
	edited, err := r.editedByPerson(ctx, pr)
	if err != nil {
		return ctrl.Result{}, false, err
	}
	if edited || len(pr.Finalizers) > 0 {
		setPhase(s, v1.PhaseEdited, fmt.Sprintf("draft %s holds a person's work and is being deleted (Porch's record of it was garbage-collected); forkline does not touch it: save the work (porchctl rpkg pull %s -n %s), then delete the draft to continue",
			pr.Name, pr.Name, pr.Namespace))
		s.pv.Status.Sync.EditedByPerson = true
		s.done = true
		return ctrl.Result{RequeueAfter: conflictPoll}, true, nil
	}
	if deleted, err := r.deleteOwnDraft(ctx, s, pr); err != nil || !deleted {
		return ctrl.Result{RequeueAfter: time.Second}, true, err
	}
	r.event(s.pv, corev1.EventTypeWarning, "DraftCollected", "draft %s was being deleted by the garbage collector (Porch had briefly lost it); forkline finished deleting its own untouched draft and goes on in a new one", pr.Name)
	return ctrl.Result{}, false, nil
}

// deleteOwnDraft deletes one of forkline's untouched drafts once the
// status no longer names it. Killed between the two writes, forkline would
// otherwise find a status naming a draft that is gone, which reads as a
// person's deletion. While the status names it, it only clears the status
// and ends the reconcile (false): that status patch comes first, and the
// next reconcile deletes.
func (r *Reconciler) deleteOwnDraft(ctx context.Context, s *scope, pr *porchv1alpha1.PackageRevision) (bool, error) {
	if sync := s.pv.Status.Sync; sync != nil && sync.Draft == pr.Name {
		s.pv.Status.Sync = nil
		s.end(status.Progressing, "ReplacingDraft", fmt.Sprintf("replacing draft %s", pr.Name))
		s.done = true
		return false, nil
	}
	if err := r.client.Delete(ctx, pr); err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("deleting draft %s: %w", pr.Name, err)
	}
	return true, nil
}

// lastGoodOn is the newest published revision of the downstream package
// that was on upstream revision: what a rollback to it restores.
func lastGoodOn(prs []porchv1alpha1.PackageRevision, revision string) *porchv1alpha1.PackageRevision {
	var on []porchv1alpha1.PackageRevision
	for i := range prs {
		if !porch.Terminating(&prs[i]) && upstreamRevisionOf(&prs[i]) == revision {
			on = append(on, prs[i])
		}
	}
	return latestPublished(on)
}

// lostSyncRecord says whether a draft without a sync annotation is this
// sync's: the one the status names, or one in this sync's workspace. Porch
// lists a draft with none of forkline's annotations when it lost them (it
// re-lists a repository while the draft is created) or never recorded them
// (the request creating it was cut off); claim has put the owner back.
func lostSyncRecord(pr *porchv1alpha1.PackageRevision, s *scope) bool {
	if pr.Annotations[v1.AnnotationSync] != "" {
		return false
	}
	sync := s.pv.Status.Sync
	named := sync != nil && sync.Draft == pr.Name && sync.To == s.selection.Target.Revision
	return named || workspaceOf(string(pr.Spec.WorkspaceName), release.Workspace(s.key))
}

func (r *Reconciler) restoreSyncRecord(ctx context.Context, pr *porchv1alpha1.PackageRevision, key string) error {
	err := r.revisions.Update(ctx, pr, func(pr *porchv1alpha1.PackageRevision) { pr.Annotations[v1.AnnotationSync] = key })
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("restoring the sync record of %s: %w", pr.Name, err)
	}
	return nil
}

// failedFunction is how Porch reports a pipeline function that failed
// while it rendered a new draft.
var failedFunction = regexp.MustCompile(`func eval "([^"]+)" failed: (.*)`)

// diagnose names why Porch refused to make the target's draft: a problem
// found in the upstream package's files, else Porch's own words.
func (r *Reconciler) diagnose(ctx context.Context, s *scope, refusal error) string {
	if m := failedFunction.FindStringSubmatch(refusal.Error()); m != nil {
		return fmt.Sprintf("rendering the draft's pipeline failed: function %s: %s", m[1], m[2])
	}
	files, err := r.resources(ctx, s.pv.Namespace, s.selection.Target.Name)
	if err == nil {
		if problem := porch.Diagnose(files); problem != nil {
			return "the upstream package is malformed: " + problem.Error()
		}
	}
	var st apierrors.APIStatus
	if errors.As(refusal, &st) {
		return st.Status().Message
	}
	return refusal.Error()
}

// checkDeleted tells whether a person deleted the draft of this sync: the
// status names a draft for the same upstream revision that Porch no longer
// has. forkline then does not create it again until asked to.
func (r *Reconciler) checkDeleted(ctx context.Context, s *scope) (ctrl.Result, bool, error) {
	pv, target := s.pv, s.selection.Target
	sync := pv.Status.Sync
	if sync == nil || sync.Draft == "" || sync.To != target.Revision || sync.Phase == v1.PhasePublished {
		return ctrl.Result{}, false, nil
	}
	if sync.Phase != v1.PhaseDeclined {
		pr := &porchv1alpha1.PackageRevision{}
		switch err := r.reader.Get(ctx, client.ObjectKey{Namespace: pv.Namespace, Name: sync.Draft}, pr); {
		case err == nil:
			// Porch has it and the cache does not yet.
			s.end(status.Progressing, "DraftNotCached", fmt.Sprintf("waiting to see draft %s", sync.Draft))
			return ctrl.Result{RequeueAfter: time.Second}, true, nil
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, false, fmt.Errorf("reading draft %s: %w", sync.Draft, err)
		case sync.MissingSince == nil || s.now.Sub(sync.MissingSince.Time) < draftVisibleWithin:
			// Porch can answer NotFound for a draft it created a moment
			// ago, or while it re-lists the repository: only a lasting
			// absence is a person's deletion.
			if sync.MissingSince == nil {
				now := metav1.NewTime(s.now)
				sync.MissingSince = &now
			}
			s.end(status.Progressing, "DraftNotVisible", fmt.Sprintf("waiting for Porch to show draft %s", sync.Draft))
			return ctrl.Result{RequeueAfter: 5 * time.Second}, true, nil
		}
	}
	if takeRetry(pv) {
		r.event(pv, corev1.EventTypeNormal, "Retrying", "creating a new draft for upstream %s, as %s asked", target.Revision, v1.AnnotationRetry)
		return ctrl.Result{}, false, nil
	}
	const deleted = "was deleted by a person"
	if !strings.Contains(sync.Message, deleted) { // once, also after a rejection
		r.event(pv, corev1.EventTypeWarning, "DraftDeleted", "draft %s for upstream %s was deleted by a person; forkline will not create it again", sync.Draft, target.Revision)
	}
	setPhase(s, v1.PhaseDeclined, fmt.Sprintf("draft %s for upstream %s %s; forkline will not create it again. %s", sync.Draft, target.Revision, deleted, resumeHint(pv, target.Revision)))
	s.done = true
	return ctrl.Result{}, true, nil
}

// resumeHint tells a person how to take up a declined sync again.
func resumeHint(pv *v1.PackageVariant, revision string) string {
	return fmt.Sprintf("To sync %s after all: kubectl annotate packagevariant %s -n %s %s=\"$(date +%%s)\" --overwrite", revision, pv.Name, pv.Namespace, v1.AnnotationRetry)
}

// takeRetry consumes a pending forkline.dev/retry request.
func takeRetry(pv *v1.PackageVariant) bool {
	want := pv.Annotations[v1.AnnotationRetry]
	if want == "" || want == pv.Status.LastHandledRetry {
		return false
	}
	pv.Status.LastHandledRetry = want
	return true
}

// readDraft reads the draft fresh from Porch (the cache can trail: every
// write is a new commit) and its resources. A proposal waits for approval
// (AwaitingApproval); a proposal a person rejected is Declined.
func (r *Reconciler) readDraft(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv, target := s.pv, s.selection.Target
	fresh := &porchv1alpha1.PackageRevision{}
	var err error
	if s.fresh {
		// Created by this reconcile: Porch's answer is as fresh as a read.
		// (A draft the cache shows as forkline last wrote it is still read:
		// Porch sends no event when its record starts terminating.)
		fresh = s.draft
	} else {
		err = r.reader.Get(ctx, client.ObjectKeyFromObject(s.draft), fresh)
	}
	switch {
	case apierrors.IsNotFound(err):
		// Just created or just deleted: the next look (checkDeleted) tells.
		s.end(status.Progressing, "DraftNotVisible", fmt.Sprintf("waiting for Porch to show draft %s", s.draft.Name))
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading draft %s: %w", s.draft.Name, err)
	}
	if porch.Terminating(fresh) {
		// Being deleted, and no event told the cache: handled as findDraft
		// does, then looked at again.
		if res, stop, err := r.collected(ctx, s, fresh); err != nil || stop {
			return res, err
		}
		s.done = true
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	r.echoes.saw(pv, fresh)
	s.draft, s.fresh = fresh, true
	if pv.Status.Sync != nil {
		pv.Status.Sync.MissingSince = nil
	}
	if pv.Status.Sync == nil || pv.Status.Sync.Draft != s.draft.Name {
		started := metav1.NewTime(s.now)
		pv.Status.Sync = &v1.SyncStatus{From: s.current, To: target.Revision, Draft: s.draft.Name, StartedAt: &started}
	}
	pv.Status.Sync.To = target.Revision
	switch s.draft.Spec.Lifecycle {
	case porchv1alpha1.PackageRevisionLifecycleProposed:
		return r.awaitApproval(ctx, s, s.draft)
	case porchv1alpha1.PackageRevisionLifecycleDraft:
	default:
		s.done = true // approved a moment ago: the next event records it
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	s.rollback = s.draft.Annotations[v1.AnnotationRollbackOf] != ""
	s.edited = editedSince(s.draft)
	// A Draft forkline once proposed was rejected by a person: their call
	// stands, edited or not, until they propose it or ask for a retry.
	if _, ok := s.draft.Annotations[v1.AnnotationProposed]; ok && (s.edited || !takeRetry(pv)) {
		if pv.Status.Sync.Phase != v1.PhaseDeclined {
			r.event(pv, corev1.EventTypeWarning, "ProposalRejected", "proposal %s for upstream %s was rejected by a person; forkline will not propose it again", s.draft.Name, target.Revision)
		}
		hint := resumeHint(pv, target.Revision)
		if s.edited {
			hint = "It was edited since: it is theirs now."
			pv.Status.Sync.EditedByPerson = true
		}
		setPhase(s, v1.PhaseDeclined, fmt.Sprintf("proposal %s for upstream %s was rejected by a person; forkline will not propose it again. Propose it yourself (porchctl rpkg propose %s -n %s) or delete it. %s",
			s.draft.Name, target.Revision, s.draft.Name, pv.Namespace, hint))
		s.done = true
		return ctrl.Result{RequeueAfter: conflictPoll}, nil
	}
	if s.cloned && !hasMutations(pv) {
		// Porch's clone of the target, as it answered the create: nothing
		// to merge or apply, and its content is the target's, which
		// checkRender diagnoses from the read every variant shares.
		return ctrl.Result{}, nil
	}
	return r.readContent(ctx, s)
}

// readContent reads the draft's resources and its Kptfile; a Kptfile that
// does not parse fails the sync.
func (r *Reconciler) readContent(ctx context.Context, s *scope) (ctrl.Result, error) {
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(s.draft), prr); err != nil {
		return ctrl.Result{}, fmt.Errorf("reading draft %s: %w", s.draft.Name, err)
	}
	kf, err := porch.ParseKptfile(prr.Spec.Resources[porch.KptfileName])
	if err != nil {
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("draft %s: %v", s.draft.Name, err))
		s.done = true
		return ctrl.Result{}, nil
	}
	s.prr, s.kf = prr, kf
	return ctrl.Result{}, nil
}

// mergeDraft writes the 3-way merge into a draft not yet on the target
// (Merging, then Conflicted or Rendering).
func (r *Reconciler) mergeDraft(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.prr == nil || s.kf.UpstreamRef() == upstreamRef(s.pv, s.selection.Target.Revision) {
		return ctrl.Result{}, nil
	}
	if s.edited {
		return r.leaveEdited(s)
	}
	log.FromContext(ctx).Info("merging", "draft", s.draft.Name, "draftUpstream", s.kf.UpstreamRef(), "target", s.selection.Target.Revision)
	if err := r.merge(ctx, s, s.prr); err != nil {
		return ctrl.Result{}, err
	}
	// A clean merge goes on to be proposed in the same reconcile, from
	// what Porch answered the write.
	return ctrl.Result{}, nil
}

// leaveEdited stops at a draft a person changed: forkline never overwrites
// it (phase Edited, editedByPerson).
func (r *Reconciler) leaveEdited(s *scope) (ctrl.Result, error) {
	setPhase(s, v1.PhaseEdited, fmt.Sprintf("draft %s was edited by a person before forkline finished it; forkline leaves it: propose, publish or delete it to continue", s.draft.Name))
	s.pv.Status.Sync.EditedByPerson = true
	s.done = true
	return ctrl.Result{RequeueAfter: conflictPoll}, nil
}

// applySettings applies the variant's steps, package context and injected
// config to a draft no person has touched (Rendering).
func (r *Reconciler) applySettings(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv, prr := s.pv, s.prr
	if !hasMutations(pv) || s.edited || s.rollback {
		return ctrl.Result{}, nil
	}
	if _, conflicted := prr.Spec.Resources[porch.ConflictsFile]; conflicted {
		return ctrl.Result{}, nil
	}
	wanted := copyResources(prr.Spec.Resources)
	if err := r.mutate(ctx, pv, wanted); err != nil {
		stall(s, "MutationFailed", err.Error())
		return ctrl.Result{}, nil
	}
	if sameResources(wanted, prr.Spec.Resources) {
		return ctrl.Result{}, nil
	}
	prr.Spec.Resources = wanted
	if err := r.write(ctx, s, prr); err != nil {
		return ctrl.Result{}, err
	}
	setPhase(s, v1.PhaseRendering, "applied the variant's steps and injected config; rendering")
	return ctrl.Result{}, nil
}

// checkConflicts holds a draft with unresolved conflicts for a person
// (Conflicted) and opens the gate once they are resolved.
func (r *Reconciler) checkConflicts(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.prr == nil && gateFalse(s.draft) {
		// A clone whose Kptfile came with the gate closed: read what it says.
		if res, err := r.readContent(ctx, s); err != nil || s.done {
			return res, err
		}
	}
	if s.prr == nil {
		setCondition(s.pv, v1.ConditionConflicted, false, "NoConflicts", "")
		return ctrl.Result{}, nil
	}
	pv, prr, draft := s.pv, s.prr, s.draft
	if content, ok := prr.Spec.Resources[porch.ConflictsFile]; ok {
		n, err := porch.Unresolved(content)
		if err != nil {
			setPhase(s, v1.PhaseConflicted, err.Error())
			s.done = true
			return ctrl.Result{RequeueAfter: conflictPoll}, nil
		}
		if n > 0 {
			setPhase(s, v1.PhaseConflicted, conflictSummary(n, pv.Status.Sync.Conflicts))
			setCondition(pv, v1.ConditionConflicted, true, "Conflicts", pv.Status.Sync.Message+fmt.Sprintf("; resolve with porchctl rpkg pull/push on %s", draft.Name))
			s.done = true
			return ctrl.Result{RequeueAfter: conflictPoll}, nil
		}
	}
	if _, ok := prr.Spec.Resources[porch.ConflictsFile]; ok || gateFalse(draft) {
		delete(prr.Spec.Resources, porch.ConflictsFile)
		if err := s.kf.SetGate(porch.ConflictsGate, true, "Resolved", "conflicts resolved"); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.writeResources(ctx, s, prr, s.kf); err != nil {
			return ctrl.Result{}, err
		}
		log.FromContext(ctx).Info("conflicts resolved", "draft", draft.Name)
		setCondition(pv, v1.ConditionConflicted, false, "Resolved", "conflicts resolved by a person")
		pv.Status.Sync.Conflicts, pv.Status.Sync.ConflictCount = nil, 0
		r.event(pv, corev1.EventTypeNormal, "ConflictsResolved", "conflicts in %s resolved; proposing", draft.Name)
		s.done = true
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	setCondition(pv, v1.ConditionConflicted, false, "NoConflicts", "")
	return ctrl.Result{}, nil
}

// checkRender stops a draft whose pipeline failed to render, or whose
// content is malformed (a resource defined twice), before it is proposed
// (Failed).
func (r *Reconciler) checkRender(ctx context.Context, s *scope) (ctrl.Result, error) {
	var content map[string]string
	var rendered porchv1alpha1.RenderStatus
	if s.prr != nil {
		content, rendered = s.prr.Spec.Resources, s.prr.Status.RenderStatus
	} else {
		// An unread clone holds the target's resources.
		up, err := r.upstreamResources(ctx, s, s.selection.Target.Name)
		if err != nil {
			return ctrl.Result{}, err
		}
		content = up
	}
	if problem := porch.Diagnose(content); problem != nil {
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("draft %s is malformed: %v; fix the upstream package (or the draft) so it can be proposed", s.draft.Name, problem))
		s.done = true
		return ctrl.Result{RequeueAfter: conflictPoll}, nil
	}
	sync := s.pv.Status.Sync
	// Porch reports a render on the write that caused it (a later read has
	// none): the record stands while the draft holds what forkline wrote.
	summary := renderSummary(rendered)
	if summary == "OK" && sync.Commit == s.draft.ResourceVersion && sync.RenderStatus != "" {
		summary = sync.RenderStatus
	}
	sync.RenderStatus = summary
	if why, failed := strings.CutPrefix(summary, renderFailed); failed {
		setPhase(s, v1.PhaseFailed, "rendering the draft's pipeline failed: "+why+"; fix the failing function in the pipeline, then forkline renders the next write again")
		s.done = true
		return ctrl.Result{RequeueAfter: conflictPoll}, nil
	}
	return ctrl.Result{}, nil
}

// propose proposes the clean draft and marks it as proposed by forkline in
// the same write, so a person's rejection can be told apart later
// (Proposed, AwaitingApproval).
func (r *Reconciler) propose(ctx context.Context, s *scope) (ctrl.Result, error) {
	draft := s.draft
	// What forkline checked is the draft at this commit: the proposal holds
	// only while the draft is still there.
	judged := draft.ResourceVersion
	if !s.fresh {
		if err := r.reader.Get(ctx, client.ObjectKeyFromObject(draft), draft); err != nil {
			return ctrl.Result{}, fmt.Errorf("reading draft %s: %w", draft.Name, err)
		}
	}
	err := r.writeDraft(ctx, s, draft, judged, func(draft *porchv1alpha1.PackageRevision) {
		draft.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
		if draft.Annotations == nil {
			draft.Annotations = map[string]string{}
		}
		draft.Annotations[v1.AnnotationProposed] = s.now.UTC().Format(time.RFC3339)
		// What forkline proposes is what it vouches for: recorded in the
		// same write, so a person's later edit of a rejected clone shows
		// as theirs.
		draft.Annotations[v1.AnnotationCommit] = judged
	})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("proposing %s: %w", draft.Name, err)
	}
	s.unrecorded = false
	s.pv.Status.Sync.Commit = judged
	if t := s.selection.Target; !t.Published.IsZero() {
		metrics.ReleaseToProposed.Observe(s.now.Sub(t.Published).Seconds())
	}
	log.FromContext(ctx).Info("proposed", "draft", draft.Name, "target", s.selection.Target.Revision)
	return r.awaitApproval(ctx, s, draft)
}

// createDraft makes the target's draft: a clone on the first sync, else a
// copy of the latest published downstream revision, merged next.
func (r *Reconciler) createDraft(ctx context.Context, s *scope, ws string) (*porchv1alpha1.PackageRevision, error) {
	pv, target := s.pv, s.selection.Target
	draft := &porchv1alpha1.PackageRevision{}
	draft.Namespace = pv.Namespace
	draft.Spec = porchv1alpha1.PackageRevisionSpec{
		PackageName:    pv.Spec.DownstreamPackage(),
		RepositoryName: pv.Spec.Downstream.Repo,
		WorkspaceName:  porchv1alpha1.WorkspaceName(ws),
		Lifecycle:      porchv1alpha1.PackageRevisionLifecycleDraft,
	}
	draft.Annotations = map[string]string{v1.AnnotationSync: s.key}
	restore := lastGoodOn(s.downstream, target.Revision)
	switch {
	case s.published == nil:
		draft.Spec.Tasks = []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeClone, Clone: &porchv1alpha1.PackageCloneTaskSpec{
			Upstream: porchv1alpha1.UpstreamPackage{UpstreamRef: &porchv1alpha1.PackageRevisionRef{Name: target.Name}},
		}}}
	case release.Older(target.Revision, s.current) && restore != nil:
		// A rollback: the last revision published on that release, copied
		// as it is, not a backward merge.
		draft.Spec.Tasks = []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeEdit, Edit: &porchv1alpha1.PackageEditTaskSpec{
			Source: &porchv1alpha1.PackageRevisionRef{Name: restore.Name},
		}}}
		draft.Annotations[v1.AnnotationRollbackOf] = restore.Name
	default:
		draft.Spec.Tasks = []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeEdit, Edit: &porchv1alpha1.PackageEditTaskSpec{
			Source: &porchv1alpha1.PackageRevisionRef{Name: s.published.Name},
		}}}
	}
	draft.Labels = pv.Spec.Labels
	for k, v := range pv.Spec.Annotations {
		draft.Annotations[k] = v
	}
	stampOwner(draft, pv)
	r.echoes.creating(pv, ws)
	defer r.echoes.creating(pv, "")
	if err := r.client.Create(ctx, draft); err != nil {
		return nil, fmt.Errorf("creating draft %s for upstream %s: %w", ws, target.Revision, err)
	}
	metrics.DraftsCreated.Inc()
	r.echoes.wroteDraft(pv, draft)
	s.fresh = true
	s.cloned = s.published == nil
	started := metav1.NewTime(s.now)
	pv.Status.Sync = &v1.SyncStatus{From: s.current, To: target.Revision, Draft: draft.Name, Phase: v1.PhaseMerging, StartedAt: &started}
	if restore := draft.Annotations[v1.AnnotationRollbackOf]; restore != "" {
		r.event(pv, corev1.EventTypeNormal, "RollingBack", "draft %s rolls back to upstream %s: it restores %s exactly", draft.Name, target.Revision, restore)
	}
	return draft, nil
}

// merge writes the 3-way merge of old upstream, new upstream and the
// downstream into the draft, with the Kptfile moved to the new upstream,
// the steps applied, and conflicts shown as a file and a readiness gate.
func (r *Reconciler) merge(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources) error {
	pv, target := s.pv, s.selection.Target
	setPhase(s, v1.PhaseMerging, fmt.Sprintf("merging upstream %s into %s", target.Revision, prr.Name))
	up, err := r.upstreamResources(ctx, s, target.Name)
	if err != nil {
		return err
	}
	var base merge.Tree
	if s.current != "" {
		for _, pr := range s.upstream {
			if pr.Spec.Revision == s.current {
				if base, err = r.upstreamResources(ctx, s, pr.Name); err != nil {
					return err
				}
			}
		}
		if base == nil {
			setPhase(s, v1.PhaseFailed, fmt.Sprintf("the downstream is on upstream %s, which the upstream repository no longer publishes; cannot merge without it", s.current))
			s.done = true
			return nil
		}
	}
	res, err := merge.Merge(base, up, prr.Spec.Resources, merge.Options{
		Strategy:       merge.Strategy(pv.Spec.EffectiveMergeStrategy()),
		ConflictPolicy: merge.ConflictPolicy(pv.Spec.EffectiveConflictPolicy()),
	})
	if err != nil {
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("merging upstream %s: %v", target.Revision, err))
		s.done = true
		return nil
	}
	kf, err := porch.ParseKptfile(res.Tree[porch.KptfileName])
	if err != nil {
		setPhase(s, v1.PhaseFailed, err.Error())
		s.done = true
		return nil
	}
	if err := kf.SetUpstream(upstreamRef(pv, target.Revision), r.commitOf(s, target.Name)); err != nil {
		return err
	}
	prr.Spec.Resources = res.Tree
	sync := pv.Status.Sync
	sync.ConflictCount = int32(len(res.Conflicts))
	sync.Conflicts = nil
	if len(res.Conflicts) > 0 {
		content, err := porch.RenderConflicts(s.current, target.Revision, res.Conflicts)
		if err != nil {
			return err
		}
		prr.Spec.Resources[porch.ConflictsFile] = content
		msg := conflictSummary(len(res.Conflicts), nil)
		if err := kf.SetGate(porch.ConflictsGate, false, "Conflicts", msg+"; see "+porch.ConflictsFile); err != nil {
			return err
		}
		for i, c := range res.Conflicts {
			if i == 20 {
				break
			}
			sync.Conflicts = append(sync.Conflicts, v1.Conflict(c))
		}
	}
	if err := r.writeResources(ctx, s, prr, kf); err != nil {
		return err
	}
	if len(res.Conflicts) > 0 {
		metrics.Merges.WithLabelValues("conflicted").Inc()
	} else {
		metrics.Merges.WithLabelValues("clean").Inc()
	}
	if len(res.Conflicts) > 0 {
		setPhase(s, v1.PhaseConflicted, conflictSummary(len(res.Conflicts), sync.Conflicts))
		setCondition(pv, v1.ConditionConflicted, true, "Conflicts", sync.Message)
		s.done = true
		s.requeue = conflictPoll
	} else {
		setPhase(s, v1.PhaseRendering, "merged cleanly; rendering")
	}
	return nil
}

// writeResources puts the Kptfile back, applies the variant's mutations,
// writes the draft and records the commit forkline wrote.
func (r *Reconciler) writeResources(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources, kf *porch.Kptfile) error {
	content, err := kf.String()
	if err != nil {
		return err
	}
	prr.Spec.Resources[porch.KptfileName] = content
	if err := r.mutate(ctx, s.pv, prr.Spec.Resources); err != nil {
		stall(s, "MutationFailed", err.Error())
		return nil
	}
	return r.write(ctx, s, prr)
}

// write stores the draft's resources, as a new commit on top of the one
// forkline judged (Porch refuses the write if the draft moved since). The
// commit it makes, the record that tells a person's later edit apart, is
// recorded on the draft by the proposal or by recordWritten. A rewrite
// first drops the old record, so a crash before the new one leaves a draft
// without a record (forkline's own) rather than one that looks edited.
func (r *Reconciler) write(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources) error {
	judged := s.draft.ResourceVersion
	recorded := s.draft.Annotations[v1.AnnotationCommit]
	if recorded != "" {
		if err := r.recordCommit(ctx, s, "", judged); err != nil {
			return err
		}
	}
	prr.ResourceVersion = judged
	if err := r.client.Update(ctx, prr); err != nil {
		if apierrors.IsConflict(err) && recorded != "" {
			// A person's push: put the record back, so it reads as edited.
			if err := r.recordCommit(ctx, s, recorded, ""); err != nil {
				return err
			}
		}
		return fmt.Errorf("writing draft %s: %w", prr.Name, err)
	}
	s.pv.Status.Sync.RenderStatus = renderSummary(prr.Status.RenderStatus)
	// The draft is now at the new commit (Porch's resourceVersion of both
	// the revision and its resources): its event is forkline's own.
	s.draft.ResourceVersion = prr.ResourceVersion
	r.echoes.wroteDraft(s.pv, s.draft.DeepCopy())
	// What Porch stored (rendered) is what the next steps check and
	// propose.
	kf, err := porch.ParseKptfile(prr.Spec.Resources[porch.KptfileName])
	if err != nil {
		return fmt.Errorf("draft %s after writing: %w", prr.Name, err)
	}
	s.kf = kf
	// Recorded by the proposal's own write, or when the reconcile stops
	// before it (recordWritten). Until then the draft has no record, which
	// reads as forkline's own, never as a person's edit.
	s.unrecorded = true
	return nil
}

// recordWritten records the commit this reconcile wrote to the draft,
// unless its proposal did.
func (r *Reconciler) recordWritten(ctx context.Context, s *scope) error {
	if !s.unrecorded {
		return nil
	}
	if err := r.recordCommit(ctx, s, s.draft.ResourceVersion, s.draft.ResourceVersion); err != nil {
		return err
	}
	s.unrecorded = false
	return nil
}

// recordCommit sets (or, empty, removes) the draft's commit annotation and
// mirrors it in status; with at set, only while the draft is at that
// commit.
func (r *Reconciler) recordCommit(ctx context.Context, s *scope, commit, at string) error {
	err := r.writeDraft(ctx, s, s.draft, at, func(draft *porchv1alpha1.PackageRevision) {
		if draft.Annotations == nil {
			draft.Annotations = map[string]string{}
		}
		if commit == "" {
			delete(draft.Annotations, v1.AnnotationCommit)
		} else {
			draft.Annotations[v1.AnnotationCommit] = commit
		}
	})
	if err != nil {
		return fmt.Errorf("recording what forkline wrote to %s: %w", s.draft.Name, err)
	}
	s.fresh = true
	s.pv.Status.Sync.Commit = commit
	return nil
}

// writeDraft is revisions.UpdateAt of the variant's draft, its echo
// recorded as sent (Porch sends the watch event before it answers) and as
// answered; a failed write leaves the draft as nobody knows.
func (r *Reconciler) writeDraft(ctx context.Context, s *scope, draft *porchv1alpha1.PackageRevision, at string, mutate func(*porchv1alpha1.PackageRevision)) error {
	sent := draft.DeepCopy()
	mutate(sent)
	r.echoes.wroteDraft(s.pv, sent)
	if err := r.revisions.UpdateAt(ctx, draft, at, mutate); err != nil {
		r.echoes.unknown(s.pv)
		return err
	}
	r.echoes.wroteDraft(s.pv, draft)
	return nil
}

// applySteps puts the variant's pipeline into the Kptfile, named
// forkline.<variant>.<function>.<index>.
func applySteps(pv *v1.PackageVariant, kf *porch.Kptfile) error {
	var mutators, validators []*yaml.RNode
	if p := pv.Spec.Pipeline; p != nil {
		for _, list := range []struct {
			fns []v1.Function
			out *[]*yaml.RNode
		}{{p.Mutators, &mutators}, {p.Validators, &validators}} {
			for i, fn := range list.fns {
				fn.Name = fmt.Sprintf("forkline.%s.%s.%d", pv.Name, fn.FunctionName(), i)
				// JSON field names, as the Kptfile has them (configMap, not configmap).
				b, err := sigsyaml.Marshal(fn)
				if err != nil {
					return err
				}
				n, err := yaml.Parse(string(b))
				if err != nil {
					return err
				}
				*list.out = append(*list.out, n)
			}
		}
	}
	return kf.SetPipeline(pv.Name, mutators, validators)
}

func (r *Reconciler) resources(ctx context.Context, ns, name string) (merge.Tree, error) {
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, prr); err != nil {
		return nil, fmt.Errorf("reading resources of %s: %w", name, err)
	}
	return prr.Spec.Resources, nil
}

// upstreamResources is the content of a published upstream revision, read
// once per commit: a release fanning out to many variants is read once,
// not once a variant.
func (r *Reconciler) upstreamResources(ctx context.Context, s *scope, name string) (merge.Tree, error) {
	commit := r.commitOf(s, name)
	key := s.pv.Namespace + "/" + name + "@" + commit
	if cached, ok := r.upstreams.Get(key); ok && commit != "" {
		return maps.Clone(cached.(merge.Tree)), nil
	}
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: s.pv.Namespace, Name: name}, prr); err != nil {
		return nil, fmt.Errorf("reading resources of %s: %w", name, err)
	}
	if commit != "" {
		r.upstreams.Add(key, maps.Clone(merge.Tree(prr.Spec.Resources)))
	}
	return prr.Spec.Resources, nil
}

// commitOf is the git commit of an upstream revision: Porch uses it as the
// revision's resourceVersion.
func (r *Reconciler) commitOf(s *scope, name string) string {
	for _, pr := range s.upstream {
		if pr.Name == name {
			return pr.ResourceVersion
		}
	}
	return ""
}

func upstreamRef(pv *v1.PackageVariant, revision string) string {
	return pv.Spec.Upstream.Package + "/" + revision
}

// publishedWithConflicts says what a person must know when a draft was
// approved by hand while its conflicts gate was False.
func publishedWithConflicts(pr *porchv1alpha1.PackageRevision) string {
	return fmt.Sprintf("%s (%s) was approved by hand while its %s gate was False: unresolved merge conflicts are published; fix them in a new revision (porchctl rpkg copy %s -n %s --workspace fix-conflicts)",
		pr.Name, pr.Spec.Revision, porch.ConflictsGate, pr.Name, pr.Namespace)
}

func gateFalse(pr *porchv1alpha1.PackageRevision) bool {
	if pr == nil {
		return false
	}
	st, ok := gateStatus(pr, porch.ConflictsGate)
	return ok && st != porchv1alpha1.ConditionTrue
}

// gateStatus is the status of a revision's readiness condition, and
// whether it has one.
func gateStatus(pr *porchv1alpha1.PackageRevision, condType string) (porchv1alpha1.ConditionStatus, bool) {
	for _, c := range pr.Status.Conditions {
		if c.Type == condType {
			return c.Status, true
		}
	}
	return "", false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// finalize applies the deletion policy to the revisions this variant made
// (known by its UID): delete removes its untouched drafts and proposals and
// proposes its published revisions for deletion (never hard-deleted);
// orphan leaves them as they are. A draft a person edited is released, and
// a person's own revisions are never touched. No revision carries an
// ownerReference to the variant, so the garbage collector deletes nothing.
func (r *Reconciler) finalize(ctx context.Context, s *scope) error {
	pv := s.pv
	if !controllerutil.ContainsFinalizer(pv, Finalizer) {
		return nil
	}
	var down porchv1alpha1.PackageRevisionList
	if err := r.client.List(ctx, &down, client.InNamespace(pv.Namespace),
		client.MatchingFields{indexPackage: packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}); err != nil {
		return fmt.Errorf("listing downstream revisions: %w", err)
	}
	s.downstream = down.Items
	if err := r.claim(ctx, s); err != nil {
		return err
	}
	if pv.Spec.EffectiveDeletionPolicy() == v1.DeletionDelete {
		for i := range s.downstream {
			if err := r.retire(ctx, pv, &s.downstream[i]); err != nil {
				return err
			}
		}
	}
	patch := client.MergeFrom(pv.DeepCopy())
	controllerutil.RemoveFinalizer(pv, Finalizer)
	return r.client.Patch(ctx, pv, patch)
}

// retire removes one of the variant's revisions per deletionPolicy delete.
func (r *Reconciler) retire(ctx context.Context, pv *v1.PackageVariant, pr *porchv1alpha1.PackageRevision) error {
	if !ownedBy(pr, pv) {
		return nil
	}
	switch pr.Spec.Lifecycle {
	case porchv1alpha1.PackageRevisionLifecycleDraft, porchv1alpha1.PackageRevisionLifecycleProposed:
		edited, err := r.editedByPerson(ctx, pr)
		if err != nil {
			return err
		}
		if edited {
			r.event(pv, corev1.EventTypeNormal, "DraftReleased", "draft %s was edited by a person: it stays in Porch as theirs", pr.Name)
			return nil
		}
		if err := r.client.Delete(ctx, pr); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", pr.Name, err)
		}
	case porchv1alpha1.PackageRevisionLifecyclePublished:
		if !downstreamRevision.MatchString(pr.Spec.Revision) {
			return nil // the branch's placeholder
		}
		err := r.revisions.Update(ctx, pr, func(pr *porchv1alpha1.PackageRevision) {
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDeletionProposed
		})
		if errors.Is(err, porch.ErrTerminating) {
			r.event(pv, corev1.EventTypeWarning, "ReleaseTerminating", "%s is marked for deletion (Porch's record of it was garbage-collected) and any write would delete it for real: forkline leaves it as it is", pr.Name)
			return nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("proposing %s for deletion: %w", pr.Name, err)
		}
	}
	return nil
}

func (r *Reconciler) event(pv *v1.PackageVariant, eventType, reason, format string, args ...any) {
	r.recorder.Eventf(pv, nil, eventType, reason, reason, format, args...)
}

// emitPhaseEvent tells users when the sync's phase changed.
func (r *Reconciler) emitPhaseEvent(before, after *v1.PackageVariant) {
	var was, is v1.SyncPhase
	if before.Status.Sync != nil {
		was = before.Status.Sync.Phase
	}
	if after.Status.Sync == nil {
		return
	}
	is = after.Status.Sync.Phase
	// Merging and Rendering pass within a reconcile: nobody acts on them.
	if is == was || is == "" || is == v1.PhaseMerging || is == v1.PhaseRendering {
		return
	}
	eventType := corev1.EventTypeNormal
	if is == v1.PhaseFailed || is == v1.PhaseConflicted {
		eventType = corev1.EventTypeWarning
	}
	r.event(after, eventType, string(is), "sync %s -> %s: %s", after.Status.Sync.From, after.Status.Sync.To, after.Status.Sync.Message)
}
