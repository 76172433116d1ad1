// Finding or creating the draft of the target release.
//
// findDraft decides which of the variant's drafts holds this sync, which
// older ones move out of the way (only untouched ones: a person's work is
// never deleted), whether a person declined the sync (a deleted draft),
// and creates the draft in a free workspace. It does not read the draft's
// content: readDraft does.

package packagevariant

import (
	"context"
	"fmt"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
	"github.com/forkline/forkline/internal/status"
)

// findDraft finds the target's draft among the variant's own, by the sync
// it holds; moves older untouched drafts out of the way (an edited one
// stops the variant: a person's work is never deleted); and creates the
// draft in a free workspace unless a person declined this sync. Sets the
// sync phase Failed (an edited older draft), Declined, or Merging.
func (r *Reconciler) findDraft(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv, target := s.pv, s.selection.Target
	for i := range s.downstream {
		pr := &s.downstream[i]
		switch roleOf(pr, pv, s.key, target.Revision) {
		case notOurs:
			continue
		case beingCollected:
			if res, stop, err := r.collected(ctx, s, pr); err != nil || stop {
				return res, err
			}
			continue
		case thisSync:
			s.draft = pr
			continue
		case thisSyncRecordLost:
			if err := r.restoreSyncRecord(ctx, pr, s.key); err != nil {
				return ctrl.Result{}, err
			}
			s.draft = pr
			continue
		case olderSync:
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
		r.event(pv, corev1.EventTypeNormal, "DraftMoved", "draft %s, untouched, replaced by one for %s: it held %s", pr.Name, target.Revision, heldRelative(pr.Annotations[v1.AnnotationSync], target.Revision))
	}
	if s.draft != nil {
		return ctrl.Result{}, nil
	}
	if res, declined, err := r.checkDeleted(ctx, s); err != nil || declined {
		return res, err
	}
	if ok, err := r.confirmNext(ctx, s); err != nil || !ok {
		return ctrl.Result{RequeueAfter: s.requeue}, err
	}
	if wait := r.refusedLately(s); wait > 0 {
		// What Porch refused a moment ago it refuses again: Porch v1.5
		// pushes a refused draft and withdraws it, and the events of that
		// must not ask again at once. A new release or spec asks at once.
		setPhase(s, v1.PhaseFailed, pv.Status.Sync.Message)
		s.done = true
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	ws := freeWorkspace(release.Workspace(s.key), s.downstream)
	created, err := r.createDraft(ctx, s, ws)
	switch {
	case err != nil && strings.Contains(err.Error(), "workspaceNames must be unique"):
		return r.takenWorkspace(ctx, s, ws)
	case err != nil && status.Classify(err).Outcome == status.Unavailable:
		return ctrl.Result{}, err // an outage: retried with backoff
	case refusedByPorch(err) && s.published == nil && porch.CloneOfExisting(err) && lostCreate(s, ws) != "":
		// Porch made the draft of an earlier create whose answer never
		// came (an outage mid-request) and recorded none of its metadata:
		// the package it refuses to clone again is that draft, in this
		// sync's workspace. Taken up as a workspace Porch holds.
		return r.takenWorkspace(ctx, s, lostCreate(s, ws))
	case refusedByPorch(err) && s.published == nil && porch.CloneOfExisting(err):
		// Porch v1.4+ clones a package only into a Repository holding no
		// revision of it: here, revisions proposed for deletion (a variant
		// or policy deleted with deletionPolicy delete, then applied
		// again). Their fate is a person's call; their deletion wakes the
		// variant.
		setPhase(s, v1.PhaseFailed, cloneRefused(s))
		s.done = true
		return ctrl.Result{}, nil
	case refusedByPorch(err):
		// Porch refused the package itself: a new upstream release or a
		// spec change (both events) will help. But Porch pushes a draft
		// before it records it, and a refusal of the record leaves the
		// draft in git, its workspace taken and no event to tell: a look
		// later finds it (takenWorkspace) if it is there.
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("Porch refused the draft for upstream %s: %s; fix that revision of the upstream package (or publish a new one) or change the variant's spec",
			target.Revision, r.diagnose(ctx, s, err)))
		r.refused.Store(client.ObjectKeyFromObject(pv), refusal{sync: s.key, generation: pv.Generation, at: s.now})
		s.done = true
		return ctrl.Result{RequeueAfter: refusedCreateCheck}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	s.draft = created
	return ctrl.Result{}, nil
}

// lostCreate is this sync's own workspace when it holds a draft that is
// forkline's by every mark Porch kept (no owner but this variant, the
// sync's key if any) and forkline tried another workspace: Porch v1.5 can
// show a draft it has just made without its metadata, or drop it from its
// cache and list it again. "" otherwise.
func lostCreate(s *scope, tried string) string {
	base := release.Workspace(s.key)
	if tried == base {
		return ""
	}
	for i := range s.downstream {
		pr := &s.downstream[i]
		owner, key := pr.Annotations[v1.AnnotationOwnerUID], pr.Annotations[v1.AnnotationSync]
		if string(pr.Spec.WorkspaceName) == base && pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDraft &&
			(owner == "" || owner == string(s.pv.UID)) && (key == "" || key == s.key) {
			return base
		}
	}
	return ""
}

// refusal is Porch's refusal of a variant's draft for one sync.
type refusal struct {
	sync       string // the sync's key: its release and settings
	generation int64
	at         time.Time
}

// refusedLately is how long to wait before asking Porch again for the
// draft it refused for this sync of this spec; 0 to ask now.
func (r *Reconciler) refusedLately(s *scope) time.Duration {
	v, ok := r.refused.Load(client.ObjectKeyFromObject(s.pv))
	if !ok {
		return 0
	}
	rec := v.(refusal)
	sync := s.pv.Status.Sync
	if rec.sync != s.key || rec.generation != s.pv.Generation || sync == nil || sync.Phase != v1.PhaseFailed {
		return 0
	}
	return max(0, refusedCreateCheck-s.now.Sub(rec.at))
}

// refusedCreateCheck is how long after Porch refused a draft forkline
// tries it again: a refused create may have left its draft in git.
const refusedCreateCheck = 30 * time.Second

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
		s.end(status.Progressing, "DraftNotListed", fmt.Sprintf("Porch holds workspace %s for a draft it does not list yet (its create was cut off half-way); waiting for Porch's repository sync to record it (Porch v1.3 records it at the first sync that finds Repository %q's git changed: any push to it)", ws, s.pv.Spec.Downstream.Repo))
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

// draftRole is what one of the downstream's revisions is to the sync at
// hand, as findDraft sees it.
type draftRole int

const (
	// notOurs: published, or not this variant's.
	notOurs draftRole = iota
	// beingCollected: the variant's draft, terminating though nobody
	// deleted it (see collected).
	beingCollected
	// thisSync: the draft holding this sync.
	thisSync
	// thisSyncRecordLost: this sync's draft without its sync annotation:
	// the one the status names, or one in this sync's workspace. Porch lists
	// a draft with none of forkline's annotations when it lost them (it
	// re-lists a repository while the draft is created) or never recorded
	// them (the request creating it was cut off); claim has put the owner
	// back.
	thisSyncRecordLost
	// olderSync: another sync's draft; it moves out of the way only if no
	// person edited it.
	olderSync
)

// roleOf decides a revision's role for the sync named key, on target.
func roleOf(pr *porchv1alpha1.PackageRevision, pv *v1.PackageVariant, key, target string) draftRole {
	switch {
	case !isOurDraft(pr, pv):
		return notOurs
	case porch.Terminating(pr):
		return beingCollected
	case pr.Annotations[v1.AnnotationSync] == key:
		return thisSync
	case pr.Annotations[v1.AnnotationSync] != "":
		return olderSync
	}
	sync := pv.Status.Sync
	named := sync != nil && sync.Draft == pr.Name && sync.To == target
	if named || workspaceOf(string(pr.Spec.WorkspaceName), release.Workspace(key)) {
		return thisSyncRecordLost
	}
	return olderSync
}

func (r *Reconciler) restoreSyncRecord(ctx context.Context, pr *porchv1alpha1.PackageRevision, key string) error {
	err := r.revisions.Update(ctx, pr, func(pr *porchv1alpha1.PackageRevision) { pr.Annotations[v1.AnnotationSync] = key })
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("restoring the sync record of %s: %w", pr.Name, err)
	}
	return nil
}

// heldRelative says what a moved draft held, measured against the target:
// "upstream v1.21.5, newer", "upstream v1.21.2, older", or the same
// release with other settings of the variant's.
func heldRelative(key, target string) string {
	held, _, _ := strings.Cut(key, "-config-")
	switch {
	case held == "":
		return "no recorded upstream revision"
	case release.Older(held, target):
		return "upstream " + held + ", older"
	case release.Older(target, held):
		return "upstream " + held + ", newer"
	}
	return "upstream " + held + " with the variant's earlier steps or injected config"
}

// cloneRefused says what keeps Porch v1.4+ from cloning the target into
// a Repository that still holds the package, and what a person can do.
func cloneRefused(s *scope) string {
	pv, target := s.pv, s.selection.Target
	var revisions []string
	for i := range s.downstream {
		if pr := &s.downstream[i]; !porch.Placeholder(pr) {
			revisions = append(revisions, fmt.Sprintf("%s (%s)", pr.Name, pr.Spec.Lifecycle))
		}
	}
	branch := "main"
	if repo := s.downstreamRepo; repo != nil && repo.Spec.Git != nil && repo.Spec.Git.Branch != "" {
		branch = repo.Spec.Git.Branch
	}
	msg := fmt.Sprintf("Porch refuses to clone upstream %s into Repository %q, which still holds package %q", target.Revision, pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())
	if len(revisions) > 0 {
		msg += fmt.Sprintf(": revisions %s; approve their deletion (porchctl rpkg del NAME -n %s) or reject it (porchctl rpkg reject NAME -n %s) to keep them", strings.Join(revisions, ", "), pv.Namespace, pv.Namespace)
	}
	return msg + fmt.Sprintf(". Porch v1.4+ also keeps a package on its branch after its revisions are deleted and then makes new revisions of it only as copies: if the clone is still refused, remove the package's directory from branch %s of the git repository, or give the variant another downstream package", branch)
}
