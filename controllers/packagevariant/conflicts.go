// Holding conflicts for a person.
//
// checkConflicts keeps a draft with unresolved conflicts (forkline-
// conflicts.yaml and the conflicts readiness gate) for a person and opens
// the gate once they resolved them. It never resolves anything itself.

package packagevariant

import (
	"context"
	"fmt"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
)

// conflictPoll is how often a conflicted draft is re-read: Porch v1.3.0
// sends no watch event when someone pushes new resources to a draft.
const conflictPoll = 10 * time.Second

// checkConflicts holds a draft with unresolved conflicts for a person
// (Conflicted) and opens the gate once they are resolved.
func (r *Reconciler) checkConflicts(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.prr == nil && gateFalse(s.draft) {
		// A clone whose Kptfile came with the gate closed: read what it says.
		if err := r.readContent(ctx, s); err != nil || s.done {
			return ctrl.Result{}, err
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

// publishedWithConflicts says what a person must know when a draft was
// approved by hand while its conflicts gate was False.
func publishedWithConflicts(pr *porchv1alpha1.PackageRevision) string {
	return fmt.Sprintf("%s (%s) was approved by hand while its %s gate was False: unresolved merge conflicts are published; fix them in a new revision (porchctl rpkg copy %s -n %s --workspace fix-conflicts)",
		pr.Name, porch.Revision(pr), porch.ConflictsGate, pr.Name, pr.Namespace)
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
