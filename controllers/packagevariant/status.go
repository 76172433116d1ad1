package packagevariant

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/status"
)

// setCondition sets one of the domain conditions (UpToDate, Conflicted,
// AwaitingApproval). Each reconcile derives them afresh: one it does not
// set is dropped, so none outlives the state it describes.
func setCondition(pv *v1.PackageVariant, condType string, on bool, reason, msg string) {
	s := metav1.ConditionFalse
	if on {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&pv.Status.Conditions, metav1.Condition{
		Type: condType, Status: s, Reason: reason, Message: msg, ObservedGeneration: pv.Generation,
	})
}

// keepCondition carries a domain condition over from before the reconcile
// when the reconcile did not derive it afresh.
func keepCondition(s *scope, condType string) {
	if meta.FindStatusCondition(s.pv.Status.Conditions, condType) != nil {
		return
	}
	if c := meta.FindStatusCondition(s.before, condType); c != nil {
		meta.SetStatusCondition(&s.pv.Status.Conditions, *c)
	}
}

// dropDomainConditions starts a reconcile with only the kstatus conditions,
// which summarize always sets.
func dropDomainConditions(pv *v1.PackageVariant) {
	pv.Status.Conditions = slices.DeleteFunc(pv.Status.Conditions, func(c metav1.Condition) bool {
		return c.Type != v1.ConditionReady && c.Type != v1.ConditionReconciling && c.Type != v1.ConditionStalled
	})
}

// summarize derives Ready, Reconciling and Stalled from how the reconcile
// ended: the outcome a step chose, or the class of the error it returned.
// The one place that does.
func summarize(before, pv *v1.PackageVariant, s *scope, err error, now time.Time) {
	status.Conclude(&pv.Status.Conditions, before.Status.Conditions, pv.Generation, s.result, err, now)
}

// end ends the reconcile here, with its outcome.
func (s *scope) end(o status.Outcome, reason, msg string) {
	s.result = status.Result{Outcome: o, Reason: reason, Message: msg}
	s.done = true
}

// stall ends the reconcile until a person fixes what msg names.
func stall(s *scope, reason, msg string) { s.end(status.Stalled, reason, msg) }

// setPhase records where the sync stands, and the outcome that phase is.
func setPhase(s *scope, phase v1.SyncPhase, msg string) {
	if s.pv.Status.Sync == nil {
		s.pv.Status.Sync = &v1.SyncStatus{}
	}
	s.pv.Status.Sync.Phase = phase
	s.pv.Status.Sync.Message = msg
	s.result = status.Result{Outcome: phaseOutcome(phase), Reason: string(phase), Message: msg}
}

// phaseOutcome: merging and rendering are forkline's work; a proposal,
// conflicts, a declined sync and an edited draft wait on a person; Failed
// needs a person's fix.
func phaseOutcome(p v1.SyncPhase) status.Outcome {
	switch p {
	case v1.PhaseMerging, v1.PhaseRendering:
		return status.Progressing
	case v1.PhasePublished:
		return status.Done
	case v1.PhaseFailed:
		return status.Stalled
	default:
		return status.Waiting
	}
}

func conflictSummary(n int, first []v1.Conflict) string {
	msg := fmt.Sprintf("%d merge conflict(s) in the draft", n)
	if len(first) > 0 {
		c := first[0]
		msg += fmt.Sprintf("; first: %s %s %s (upstream %s, downstream %s)", c.File, c.Resource, c.Path, c.Upstream, c.Downstream)
	}
	return msg
}

// record exports how the variant stands as metrics.
func record(pv *v1.PackageVariant, s *scope) {
	if !pv.DeletionTimestamp.IsZero() {
		metrics.Forget(pv.Namespace, pv.Name)
		return
	}
	phase := "None"
	if sync := pv.Status.Sync; sync != nil && sync.Phase != "" {
		phase = string(sync.Phase)
		metrics.Conflicts.WithLabelValues(pv.Namespace, pv.Name).Set(float64(sync.ConflictCount))
	}
	metrics.SetPhase(pv.Namespace, pv.Name, phase)
	stalled := 0.0
	if meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionStalled) {
		stalled = 1
	}
	metrics.Stalled.WithLabelValues(pv.Namespace, pv.Name).Set(stalled)
	if u := pv.Status.Upstream; u != nil {
		metrics.Behind.WithLabelValues(pv.Namespace, pv.Name).Set(float64(len(u.Available)))
	}
	age := 0.0
	if t := s.selection.Target; t != nil && !t.Published.IsZero() {
		age = s.now.Sub(t.Published).Seconds()
	}
	metrics.TargetAge.WithLabelValues(pv.Namespace, pv.Name).Set(age)
}
