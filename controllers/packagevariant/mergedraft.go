// Merging the target release into the draft.
//
// mergeDraft decides whether the draft still needs the target's merge (not
// when its Kptfile is already on the target, never when a person edited
// it) and writes the 3-way merge of old upstream, new upstream and the
// downstream, with conflicts shown as a file and a readiness gate. What the
// variant's own settings add is applySettings' job.

package packagevariant

import (
	"context"
	"errors"
	"fmt"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
)

// mergeDraft writes the 3-way merge into a draft not yet on the target
// (Merging, then Conflicted or Rendering).
func (r *Reconciler) mergeDraft(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.prr == nil || (s.kf.UpstreamRef() == upstreamRef(s.pv, s.selection.Target.Revision) && !s.rebuild) {
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

// merge writes the 3-way merge of old upstream, new upstream and the
// downstream into the draft, with the Kptfile moved to the new upstream,
// the steps applied, and conflicts shown as a file and a readiness gate.
func (r *Reconciler) merge(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources) error {
	down, err := r.downstreamOf(ctx, s, prr)
	if err != nil {
		return err
	}
	m, err := r.mergeFiles(ctx, s, prr.Name, down)
	if err != nil || m == nil {
		return err
	}
	prr.Spec.Resources = m.files
	if err := r.write(ctx, s, prr); err != nil || s.done {
		return err
	}
	r.merged(s, m)
	return nil
}

// mergeResult is a merge ready to be written: the draft's files, with the
// Kptfile moved to the new upstream and the variant's steps applied.
type mergeResult struct {
	files     map[string]string
	conflicts int
}

// mergeFiles is the 3-way merge of old upstream, new upstream and down,
// for the draft named into; nil when the sync ended on it (Failed, or
// Stalled on the variant's steps).
func (r *Reconciler) mergeFiles(ctx context.Context, s *scope, into string, down merge.Tree) (*mergeResult, error) {
	pv, target := s.pv, s.selection.Target
	setPhase(s, v1.PhaseMerging, fmt.Sprintf("merging upstream %s into %s", target.Revision, into))
	up, err := r.upstreamResources(ctx, s, target.Name)
	if err != nil {
		return nil, err
	}
	base, err := r.baseResources(ctx, s)
	if s.rebuild && s.current == "" && err == nil {
		// A first sync rebuilt: the move is what changed since the clone.
		base, _, err = r.gitBase(ctx, s, lockedCommit(s.draft))
	}
	if errors.Is(err, errBaseUnreadable) {
		setPhase(s, v1.PhaseFailed, err.Error()+"; "+s.gitOff)
		s.result.Reason = "BaseUnreadable"
		s.done = true
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.mergedFrom = down
	// A merge holds what it parses of three trees: big merges take turns,
	// so the manager's memory follows the work, not the number of branches.
	weight := min(int64(merge.ParsedBytes(base, up, down)), mergeBudget)
	if err := r.merging.Acquire(ctx, weight); err != nil {
		return nil, err
	}
	res, err := merge.Merge(base, up, down, merge.Options{
		Strategy:       merge.Strategy(pv.Spec.EffectiveMergeStrategy()),
		ConflictPolicy: merge.ConflictPolicy(pv.Spec.EffectiveConflictPolicy()),
	})
	var audit error
	if err == nil {
		// Nothing is written that does not prove itself against its inputs.
		audit = merge.Audit(res)
	}
	r.merging.Release(weight)
	if err != nil {
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("merging upstream %s: %v", target.Revision, err))
		s.done = true
		return nil, nil
	}
	if err := audit; err != nil {
		metrics.Merges.WithLabelValues("audit-failed").Inc()
		log.FromContext(ctx).Error(err, "merge audit failed: nothing written", "draft", into, "target", target.Revision)
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("merging upstream %s into %s: %v; forkline wrote nothing to the draft. Merge it by hand (porchctl rpkg pull/push on %s) and report it: it is a defect of forkline's merge",
			target.Revision, into, err, into))
		s.result.Reason = "MergeAuditFailed"
		s.done = true
		return nil, nil
	}
	kf, err := porch.ParseKptfile(res.Tree[porch.KptfileName])
	if err != nil {
		setPhase(s, v1.PhaseFailed, err.Error())
		s.done = true
		return nil, nil
	}
	commit := r.commitOf(s, target.Name)
	if err := kf.SetUpstream(upstreamRef(pv, target.Revision), commit); err != nil {
		return nil, err
	}
	files := map[string]string(res.Tree)
	sync := pv.Status.Sync
	// The commit the draft is now built from, also for a rebuild whose
	// own write's event forkline does not wait for.
	sync.UpstreamCommit = commit
	sync.ConflictCount = int32(len(res.Conflicts))
	sync.Conflicts = nil
	if len(res.Conflicts) > 0 {
		content, err := porch.RenderConflicts(s.current, target.Revision, res.Conflicts)
		if err != nil {
			return nil, err
		}
		files[porch.ConflictsFile] = content
		msg := conflictSummary(len(res.Conflicts), nil)
		if err := kf.SetGate(porch.ConflictsGate, false, "Conflicts", msg+"; see "+porch.ConflictsFile); err != nil {
			return nil, err
		}
		for i, c := range res.Conflicts {
			if i == 20 {
				break
			}
			sync.Conflicts = append(sync.Conflicts, v1.Conflict(c))
		}
	}
	if err := r.finishFiles(ctx, s, files, kf); err != nil || s.done {
		return nil, err
	}
	return &mergeResult{files: files, conflicts: len(res.Conflicts)}, nil
}

// merged records a merge written to the draft: Conflicted, or on to be
// rendered and proposed.
func (r *Reconciler) merged(s *scope, m *mergeResult) {
	if m.conflicts > 0 {
		metrics.Merges.WithLabelValues("conflicted").Inc()
		setPhase(s, v1.PhaseConflicted, conflictSummary(m.conflicts, s.pv.Status.Sync.Conflicts))
		setCondition(s.pv, v1.ConditionConflicted, true, "Conflicts", s.pv.Status.Sync.Message)
		s.done = true
		s.requeue = conflictPoll
		return
	}
	metrics.Merges.WithLabelValues("clean").Inc()
	setPhase(s, v1.PhaseRendering, "merged cleanly; rendering")
}

// mergeBudget is how many bytes of package content are parsed at once
// (base, upstream and downstream counted): one 5 MB package's merge, or
// several small ones side by side.
const mergeBudget = 24 << 20

// downstreamOf is the merge's downstream side: the draft's content, which
// starts as the published revision's; a proposal rebuilt because its tag
// moved starts again from the published revision, not from the merge of
// the old commit it holds.
func (r *Reconciler) downstreamOf(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources) (merge.Tree, error) {
	if !s.rebuild || s.published == nil {
		return prr.Spec.Resources, nil
	}
	published, err := r.resources(ctx, s.pv.Namespace, s.published.Name)
	if err != nil {
		return nil, err
	}
	// The published revision's own Kptfile, moved to the target below.
	return published, nil
}

func upstreamRef(pv *v1.PackageVariant, revision string) string {
	return pv.Spec.Upstream.Package + "/" + revision
}
