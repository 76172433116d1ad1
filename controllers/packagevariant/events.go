// Events a person reads.

package packagevariant

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

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
	r.event(after, eventType, string(is), "%s: %s", syncName(after.Status.Sync), after.Status.Sync.Message)
}

// syncName is how an Event names a sync: "sync v1.21.2 -> v1.21.3", or
// "first sync to v1.21.2" when the branch had no release yet.
func syncName(s *v1.SyncStatus) string {
	if s.From == "" {
		return "first sync to " + s.To
	}
	return fmt.Sprintf("sync %s -> %s", s.From, s.To)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
