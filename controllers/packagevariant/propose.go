// Proposing the clean draft.
//
// propose proposes the draft at the commit forkline checked and records
// that commit in the same write, so a person's later push or rejection is
// told apart. Whether it is approved is awaitApproval's call (approve.go).

package packagevariant

import (
	"context"
	"fmt"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
)

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
	if s.written == "" && (s.prr == nil || s.prr.Name != draft.Name || s.prr.ResourceVersion != judged) {
		// Porch's clone, which forkline did not write to: its files are
		// still what forkline vouches for. Porch v1.4+ commits the
		// proposal's own metadata, so only the files tell a person's later
		// edit from that commit.
		if err := r.readContent(ctx, s); err != nil || s.done {
			return ctrl.Result{}, err
		}
		if s.prr.ResourceVersion != judged {
			// Porch v1.5 can serve the resources of another commit than
			// the revision's for a moment: forkline proposes only content
			// it can fingerprint, so it looks again shortly.
			s.done = true
			return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
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
		switch {
		case s.written != "":
			draft.Annotations[v1.AnnotationWrittenFiles] = s.written
		case s.prr != nil && s.prr.ResourceVersion == judged:
			draft.Annotations[v1.AnnotationWrittenFiles] = porch.FileDigests(s.prr.Spec.Resources)
		}
		recordPerson(s, draft)
	})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("proposing %s: %w", draft.Name, err)
	}
	// Porch v1.5 can answer the proposal with the Draft it was (its cache
	// behind its write). forkline's copy says what it wrote: the follow-up
	// record below is remembered as an echo, and an echo of a Draft at the
	// proposal's commit would hide a person's rejection, which keeps the
	// commit and looks just like it.
	draft.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
	if moved := draft.ResourceVersion; moved != judged {
		// Porch v1.4+ commits the lifecycle change itself: the proposal's
		// new commit is forkline's own write on top of what it judged (the
		// write held only at that commit), recorded while nothing else
		// moved it since.
		if err := r.writeDraft(ctx, s, draft, moved, func(draft *porchv1alpha1.PackageRevision) {
			draft.Annotations[v1.AnnotationCommit] = moved
		}); err != nil {
			return ctrl.Result{}, fmt.Errorf("recording the commit Porch made proposing %s: %w", draft.Name, err)
		}
		judged = moved
	}
	s.unrecorded = false
	s.pv.Status.Sync.Commit = judged
	r.recordChanges(ctx, s)
	if t := s.selection.Target; !t.Published.IsZero() {
		metrics.ReleaseToProposed.Observe(s.now.Sub(t.Published).Seconds())
	}
	log.FromContext(ctx).Info("proposed", "draft", draft.Name, "target", s.selection.Target.Revision)
	return r.awaitApproval(ctx, s, draft)
}
