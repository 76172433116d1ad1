// Reading the draft.
//
// readDraft reads the draft fresh from Porch and decides what its lifecycle
// means: a proposal goes to approval, a rejected proposal is a person's
// decline, a draft goes on to be merged. readContent reads its resources
// and Kptfile for the steps after it.

package packagevariant

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/inject"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/status"
	"github.com/forkline/forkline/internal/upstream"
)

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
		return r.draftNotServed(s), nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading draft %s: %w", s.draft.Name, err)
	}
	if r.behindItsEvent(ctx, fresh) {
		// Porch v1.5 sends the event of a lifecycle change (a person's
		// rejection) a moment before its reads show it, and the event
		// that follows is the same: nothing else would wake the variant.
		s.done = true
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
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
	if s.notes != nil {
		pv.Status.Sync.ReleaseNotes = s.notes
	}
	if res, err := r.checkMovedTarget(ctx, s); err != nil || s.done {
		return res, err
	}
	switch s.draft.Spec.Lifecycle {
	case porchv1alpha1.PackageRevisionLifecycleProposed:
		if pv.Status.Sync.Changes == nil {
			r.recordChanges(ctx, s)
		}
		return r.awaitApproval(ctx, s, s.draft)
	case porchv1alpha1.PackageRevisionLifecycleDraft:
	default:
		s.done = true // approved a moment ago: the next event records it
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	s.rollback = s.draft.Annotations[v1.AnnotationRollbackOf] != ""
	if s.edited, err = r.editedNow(ctx, s); err != nil || s.done {
		return ctrl.Result{}, err
	}
	// A Draft forkline once proposed was rejected by a person: their call
	// stands, edited or not, until they propose it or ask for a retry.
	if _, ok := s.draft.Annotations[v1.AnnotationProposed]; ok && (s.edited || !takeRetry(pv)) {
		if pv.Status.Sync.Phase != v1.PhaseDeclined {
			// A person's rejection only if git says so too: Porch v1.5
			// can list a proposal as the Draft it was (its cache behind
			// its git), and a rejection keeps the commit there.
			if behind, err := r.stillProposedInGit(ctx, s); err != nil || behind != "" {
				if err == nil {
					s.end(status.Unavailable, "PorchBehindGit", behind)
				}
				return ctrl.Result{RequeueAfter: 10 * time.Second}, err
			}
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
		// checkRender diagnoses from the read every variant shares; unless
		// it has injection points, which get their conditions.
		up, err := r.upstreamResources(ctx, s, target.Name)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !inject.HasPoints(up) {
			return ctrl.Result{}, nil
		}
	}
	if s.prr == nil || s.prr.Name != s.draft.Name {
		if err := r.readContent(ctx, s); err != nil || s.done {
			return ctrl.Result{}, err
		}
	}
	if s.edited {
		s.personFiles = changedByPerson(s.draft, s.prr.Spec.Resources)
	}
	return ctrl.Result{}, nil
}

// stillProposedInGit says, when the downstream's git still holds the
// draft as proposed (its proposed/ branch), that Porch's Draft is Porch
// behind its git, not a person's rejection; "" when git agrees with Porch
// or cannot be asked (no git Repository, credentials forkline may not
// read).
func (r *Reconciler) stillProposedInGit(ctx context.Context, s *scope) (string, error) {
	repo := s.downstreamRepo
	if repo == nil || repo.Spec.Git == nil {
		return "", nil
	}
	remote, unreadable, err := r.gitRemote(ctx, s.pv.Namespace, repo)
	if err != nil || unreadable != "" {
		return "", err
	}
	branch := "proposed/" + s.draft.Spec.PackageName + "/" + string(s.draft.Spec.WorkspaceName)
	proposed, err := upstream.HasBranch(ctx, remote, branch)
	if err != nil {
		return "", fmt.Errorf("asking git whether %s is still proposed: %w", s.draft.Name, err)
	}
	if !proposed {
		return "", nil
	}
	return fmt.Sprintf("Porch shows proposal %s as a Draft, but git still holds it as proposed (branch %s of Repository %q): Porch's cache is behind its git, no person rejected it; waiting for Porch to catch up (any new revision in that repository, or a restart of porch-server, makes it re-read git)",
		s.draft.Name, branch, s.pv.Spec.Downstream.Repo), nil
}

// draftNotServed: the cache lists the draft and Porch answers NotFound for
// it. Briefly, a draft just created or deleted. Lastingly, Porch v1.5 lost
// it: a draft created while Porch re-listed its Repository is dropped from
// Porch's own cache, though its branch and record stay, until the
// Repository's git next changes (measured on the stack, 1 draft in 50 at a
// 10 s sync period). forkline makes no second draft beside it: it says so,
// and looks again with backoff, as for an outage.
func (r *Reconciler) draftNotServed(s *scope) ctrl.Result {
	sync := s.pv.Status.Sync
	if sync == nil || sync.Draft != s.draft.Name {
		s.end(status.Progressing, "DraftNotVisible", fmt.Sprintf("waiting for Porch to show draft %s", s.draft.Name))
		return ctrl.Result{RequeueAfter: 2 * time.Second}
	}
	if sync.MissingSince == nil {
		now := metav1.NewTime(s.now)
		sync.MissingSince = &now
	}
	missing := s.now.Sub(sync.MissingSince.Time)
	if missing < draftVisibleWithin {
		s.end(status.Progressing, "DraftNotVisible", fmt.Sprintf("waiting for Porch to show draft %s", s.draft.Name))
		return ctrl.Result{RequeueAfter: 2 * time.Second}
	}
	s.end(status.Unavailable, "DraftNotServed", fmt.Sprintf("Porch lists draft %s in its watch but answers NotFound for it since %s: Porch lost it from its cache (Porch v1.5 does so for a draft created while it re-lists Repository %q, until that repository's git next changes); forkline makes no second draft and looks again with backoff. Any new revision in %q, or a restart of porch-server, brings it back",
		s.draft.Name, sync.MissingSince.UTC().Format(time.RFC3339), s.pv.Spec.Downstream.Repo, s.pv.Spec.Downstream.Repo))
	return ctrl.Result{RequeueAfter: min(missing/2, 2*time.Minute)}
}

// behindItsEvent says Porch's answer to a read of the draft still shows
// the proposal the watch event the cache holds has already turned back to
// a Draft with the same proposed mark (so the cache's Draft came after
// forkline's proposal, not before it; a person may have pushed on top of
// the rejection too): the read is the older of the two.
func (r *Reconciler) behindItsEvent(ctx context.Context, fresh *porchv1alpha1.PackageRevision) bool {
	cached := &porchv1alpha1.PackageRevision{}
	if err := r.client.Get(ctx, client.ObjectKeyFromObject(fresh), cached); err != nil {
		return false
	}
	proposed := cached.Annotations[v1.AnnotationProposed]
	return proposed != "" && proposed == fresh.Annotations[v1.AnnotationProposed] &&
		cached.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDraft &&
		fresh.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleProposed
}

// editedNow says whether a person changed the draft since forkline last
// recorded it. Porch v1.4+ commits every write of a revision, its metadata
// included: a commit forkline did not record is a person's only if the
// content differs from what forkline wrote (when it has the fingerprints).
func (r *Reconciler) editedNow(ctx context.Context, s *scope) (bool, error) {
	if !editedSince(s.draft) {
		return false, nil
	}
	if s.draft.Annotations[v1.AnnotationWrittenFiles] == "" {
		return true, nil
	}
	if s.prr == nil || s.prr.Name != s.draft.Name {
		if err := r.readContent(ctx, s); err != nil || s.done {
			return false, err
		}
	}
	return changedByPerson(s.draft, s.prr.Spec.Resources) != "", nil
}

// changedByPerson names what a person changed in a draft forkline wrote:
// the files that differ from forkline's fingerprints of its write, added
// to any the draft already records; or, without fingerprints, the commits.
// Empty when the draft holds exactly what forkline wrote.
func changedByPerson(draft *porchv1alpha1.PackageRevision, resources map[string]string) string {
	files, known := porch.PersonFiles(draft.Annotations[v1.AnnotationWrittenFiles], draft.Annotations[v1.AnnotationChangedByPerson], resources)
	if !known {
		return porch.MovedRecord(short(draft.Annotations[v1.AnnotationCommit]), short(draft.ResourceVersion))
	}
	return strings.Join(files, ", ")
}

// short is a commit as git log --oneline shows it.
func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// readContent reads the draft's resources and its Kptfile; a Kptfile that
// does not parse fails the sync.
func (r *Reconciler) readContent(ctx context.Context, s *scope) error {
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(s.draft), prr); err != nil {
		return fmt.Errorf("reading draft %s: %w", s.draft.Name, err)
	}
	kf, err := porch.ParseKptfile(prr.Spec.Resources[porch.KptfileName])
	if err != nil {
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("draft %s: %v", s.draft.Name, err))
		s.done = true
		return nil
	}
	s.prr, s.kf = prr, kf
	s.stored = maps.Clone(prr.Spec.Resources)
	return nil
}
