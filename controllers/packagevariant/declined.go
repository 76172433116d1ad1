// A person declining a sync.
//
// checkDeleted tells a person's deletion of this sync's draft from Porch
// not showing it yet; a declined sync is not created again until the
// person asks (forkline.dev/retry, consumed by takeRetry).

package packagevariant

import (
	"context"
	"fmt"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/status"
)

// draftVisibleWithin is how long Porch may take to serve a draft it just
// created; a draft still missing after that was deleted.
const draftVisibleWithin = 30 * time.Second

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
			// Porch has it and the cache does not: briefly, or for good
			// when Porch v1.5's watch never sent it (a draft created while
			// Porch re-listed its Repository). The draft this sync's status
			// names is forkline's: the sync goes on with Porch's answer.
			s.draft = pr
			return ctrl.Result{}, true, nil
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
