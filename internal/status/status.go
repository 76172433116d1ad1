// Package status derives the kstatus conditions (Ready, Reconciling,
// Stalled) of forkline's objects from how a reconcile ended, in one place
// (Flux's summarize pattern), and classes errors by how to react to them.
//
// The rule kstatus reads (sigs.k8s.io/cli-utils/pkg/kstatus):
//
//	Progressing  forkline has more to do on its own   Reconciling=True  Ready=False  -> InProgress
//	Unavailable  Porch or git cannot be reached        Reconciling=True  Ready=False  -> InProgress
//	Waiting      the next move is a person's           Ready=True (reason says what) -> Current
//	Done         nothing left to do                    Ready=True                    -> Current
//	Stalled      a person must fix the spec or content Stalled=True      Ready=False  -> Failed
//
// Ready=False never stands alone: kstatus would read it as InProgress.
package status

import (
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// Outcome is how one reconcile left an object.
type Outcome int

const (
	// Progressing means forkline has more to do and will do it on its own.
	Progressing Outcome = iota
	// Unavailable means a service forkline needs (Porch, git) cannot be reached;
	// retried with backoff.
	Unavailable
	// Waiting means a steady state whose next move is a person's (approve,
	// resolve, un-suspend) or the clock's (a release's minimum age).
	Waiting
	// Done means in step with the target; nothing to do.
	Done
	// Stalled means forkline cannot go on until a person fixes the spec or the
	// content it names.
	Stalled
)

func (o Outcome) String() string {
	return [...]string{"Progressing", "Unavailable", "Waiting", "Done", "Stalled"}[o]
}

// Result is an outcome with the words a person reads: the reason
// (CamelCase) and a message saying what happens next or what to do.
type Result struct {
	Outcome Outcome
	Reason  string
	Message string
}

// Conclude sets Ready, Reconciling and Stalled at the end of a reconcile:
// from r, or from the class of err when the reconcile returned one, keeping
// the transition times of conditions whose status did not change since
// before.
func Conclude(conds *[]metav1.Condition, before []metav1.Condition, generation int64, r Result, err error, now time.Time) {
	if err != nil {
		r = fromError(err, before, now)
	}
	if r.Reason == "" {
		r.Reason, r.Message = "Progressing", "syncing"
	}
	summarize(conds, generation, r)
	carryTransitions(before, *conds)
	sortConditions(*conds)
}

// sortConditions puts Ready, Reconciling and Stalled first, then the rest
// by type: a reconcile that derives the same conditions in another order
// writes nothing.
func sortConditions(conds []metav1.Condition) {
	rank := func(t string) int {
		switch t {
		case v1.ConditionReady:
			return 0
		case v1.ConditionReconciling:
			return 1
		case v1.ConditionStalled:
			return 2
		}
		return 3
	}
	slices.SortStableFunc(conds, func(a, b metav1.Condition) int {
		if ra, rb := rank(a.Type), rank(b.Type); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Type, b.Type)
	})
}

// summarize sets Ready, Reconciling and Stalled from r.
func summarize(conds *[]metav1.Condition, generation int64, r Result) {
	set := func(t string, on bool, reason, msg string) {
		s := metav1.ConditionFalse
		if on {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(conds, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: generation})
	}
	working := r.Outcome == Progressing || r.Outcome == Unavailable
	ready := r.Outcome == Waiting || r.Outcome == Done
	set(v1.ConditionReconciling, working, r.Reason, msgIf(working, r.Message))
	set(v1.ConditionStalled, r.Outcome == Stalled, r.Reason, msgIf(r.Outcome == Stalled, r.Message))
	set(v1.ConditionReady, ready, r.Reason, r.Message)
}

func msgIf(on bool, msg string) string {
	if on {
		return msg
	}
	return ""
}

// carryTransitions keeps each condition's lastTransitionTime from before
// when its status did not change, so a reconcile that derives every
// condition afresh writes nothing when nothing changed.
func carryTransitions(before, after []metav1.Condition) {
	for i := range after {
		j := slices.IndexFunc(before, func(c metav1.Condition) bool { return c.Type == after[i].Type })
		if j >= 0 && before[j].Status == after[i].Status {
			after[i].LastTransitionTime = before[j].LastTransitionTime
		}
	}
}
