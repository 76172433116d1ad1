package packagevariant

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

func setCondition(pv *v1.PackageVariant, condType string, status bool, reason, msg string) {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&pv.Status.Conditions, metav1.Condition{
		Type: condType, Status: s, Reason: reason, Message: msg, ObservedGeneration: pv.Generation,
	})
}

func isTrue(pv *v1.PackageVariant, condType string) bool {
	return meta.IsStatusConditionTrue(pv.Status.Conditions, condType)
}

// setReady derives Ready from the other conditions; the one place that
// does.
func setReady(pv *v1.PackageVariant, err error) {
	get := func(t string) *metav1.Condition { return meta.FindStatusCondition(pv.Status.Conditions, t) }
	switch {
	case err != nil:
		setCondition(pv, v1.ConditionReady, false, "Error", err.Error())
		setCondition(pv, v1.ConditionReconciling, true, "Retrying", err.Error())
	case isTrue(pv, v1.ConditionStalled):
		c := get(v1.ConditionStalled)
		setCondition(pv, v1.ConditionReady, false, c.Reason, c.Message)
	case pv.Spec.Suspend:
		setCondition(pv, v1.ConditionReady, false, "Suspended", "spec.suspend is true")
	case isTrue(pv, v1.ConditionConflicted):
		c := get(v1.ConditionConflicted)
		setCondition(pv, v1.ConditionReady, false, c.Reason, c.Message)
	case isTrue(pv, v1.ConditionAwaitingApproval):
		c := get(v1.ConditionAwaitingApproval)
		setCondition(pv, v1.ConditionReady, false, c.Reason, c.Message)
	case isTrue(pv, v1.ConditionUpToDate):
		c := get(v1.ConditionUpToDate)
		setCondition(pv, v1.ConditionReady, true, c.Reason, c.Message)
	case pv.Status.Sync != nil && pv.Status.Sync.Phase != "" && pv.Status.Sync.Phase != v1.PhasePublished:
		setCondition(pv, v1.ConditionReady, false, string(pv.Status.Sync.Phase), pv.Status.Sync.Message)
	case get(v1.ConditionUpToDate) != nil:
		c := get(v1.ConditionUpToDate)
		setCondition(pv, v1.ConditionReady, false, c.Reason, c.Message)
	default:
		setCondition(pv, v1.ConditionReady, false, "Progressing", "syncing")
	}
}

// setPhase records where the sync stands.
func setPhase(s *scope, phase v1.SyncPhase, msg string) {
	if s.pv.Status.Sync == nil {
		s.pv.Status.Sync = &v1.SyncStatus{}
	}
	s.pv.Status.Sync.Phase = phase
	s.pv.Status.Sync.Message = msg
	waitingOnPerson := phase == v1.PhaseConflicted || phase == v1.PhaseProposed || phase == v1.PhaseFailed || phase == v1.PhaseDeclined
	setCondition(s.pv, v1.ConditionReconciling, !waitingOnPerson && phase != v1.PhasePublished, string(phase), msg)
}

func conflictSummary(n int, first []v1.Conflict) string {
	msg := fmt.Sprintf("%d merge conflict(s) in the draft", n)
	if len(first) > 0 {
		c := first[0]
		msg += fmt.Sprintf("; first: %s %s %s (upstream %s, downstream %s)", c.File, c.Resource, c.Path, c.Upstream, c.Downstream)
	}
	return msg
}
