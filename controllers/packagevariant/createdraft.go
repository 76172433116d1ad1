// Creating the draft of the target release.
//
// createDraft picks how the draft starts: Porch's clone of the target on
// the first sync, a copy of the last published revision on that release
// for a rollback, else a copy of the latest published revision, which
// mergeDraft then merges. diagnose names why Porch refused it.

package packagevariant

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
)

// createDraft makes the target's draft: a clone on the first sync, else a
// copy of the latest published downstream revision, merged next.
func (r *Reconciler) createDraft(ctx context.Context, s *scope, ws string) (*porchv1alpha1.PackageRevision, error) {
	pv, target := s.pv, s.selection.Target
	draft := &porchv1alpha1.PackageRevision{}
	draft.Namespace = pv.Namespace
	draft.Spec = porchv1alpha1.PackageRevisionSpec{
		PackageName:    pv.Spec.DownstreamPackage(),
		RepositoryName: pv.Spec.Downstream.Repo,
		WorkspaceName:  ws,
		Lifecycle:      porchv1alpha1.PackageRevisionLifecycleDraft,
	}
	draft.Annotations = map[string]string{v1.AnnotationSync: s.key}
	restore := lastGoodOn(s.downstream, target.Revision)
	switch {
	case s.published == nil:
		draft.Spec.Tasks = porch.CloneTask(target.Name)
	case release.Older(target.Revision, s.current) && restore != nil:
		// A rollback: the last revision published on that release, copied
		// as it is, not a backward merge.
		draft.Spec.Tasks = porch.EditTask(restore.Name)
		draft.Annotations[v1.AnnotationRollbackOf] = restore.Name
	default:
		draft.Spec.Tasks = porch.EditTask(s.published.Name)
	}
	draft.Labels = pv.Spec.Labels
	for k, v := range pv.Spec.Annotations {
		draft.Annotations[k] = v
	}
	stampOwner(draft, pv)
	r.echoes.creating(pv, ws)
	defer r.echoes.creating(pv, "")
	if err := r.client.Create(ctx, draft); err != nil {
		return nil, createError(s, draft, err)
	}
	r.created(s, draft)
	if restore := draft.Annotations[v1.AnnotationRollbackOf]; restore != "" {
		r.event(pv, corev1.EventTypeNormal, "RollingBack", "draft %s rolls back to upstream %s: it restores %s exactly", draft.Name, target.Revision, restore)
	}
	return draft, nil
}

// createError names the draft Porch did not create, and where.
func createError(s *scope, draft *porchv1alpha1.PackageRevision, err error) error {
	return fmt.Errorf("creating draft %s for upstream %s in Porch Repository %q: %w", draft.Spec.WorkspaceName, s.selection.Target.Revision, s.pv.Spec.Downstream.Repo, err)
}

// refusedByPorch says Porch refused the draft itself (its content, its
// render), not that it could not be reached.
func refusedByPorch(err error) bool {
	return apierrors.IsInternalError(err) || apierrors.IsBadRequest(err) || apierrors.IsInvalid(err)
}

// created records a draft Porch made for this sync.
func (r *Reconciler) created(s *scope, draft *porchv1alpha1.PackageRevision) {
	metrics.DraftsCreated.Inc()
	r.echoes.wroteDraft(s.pv, draft)
	s.fresh = true
	s.cloned = s.published == nil
	started := metav1.NewTime(s.now)
	s.pv.Status.Sync = &v1.SyncStatus{From: s.current, To: s.selection.Target.Revision, Draft: draft.Name, Phase: v1.PhaseMerging, StartedAt: &started}
}

// lastGoodOn is the newest published revision of the downstream package
// that was on upstream revision: what a rollback to it restores.
func lastGoodOn(prs []porchv1alpha1.PackageRevision, revision string) *porchv1alpha1.PackageRevision {
	var on []porchv1alpha1.PackageRevision
	for i := range prs {
		if !porch.Terminating(&prs[i]) && upstreamRevisionOf(&prs[i]) == revision {
			on = append(on, prs[i])
		}
	}
	return porch.LatestPublished(on)
}

// failedFunction is how Porch reports a pipeline function that failed
// while it rendered a new draft.
var failedFunction = regexp.MustCompile(`func eval "([^"]+)" failed: (.*)`)

// diagnose names why Porch refused to make the target's draft: a problem
// found in the upstream package's files, else Porch's own words.
func (r *Reconciler) diagnose(ctx context.Context, s *scope, refusal error) string {
	if m := failedFunction.FindStringSubmatch(refusal.Error()); m != nil {
		return fmt.Sprintf("rendering the draft's pipeline failed: function %s: %s", m[1], m[2])
	}
	files, err := r.resources(ctx, s.pv.Namespace, s.selection.Target.Name)
	if err == nil {
		if problem := porch.Diagnose(files); problem != nil {
			return "the upstream package is malformed: " + problem.Error()
		}
	}
	var st apierrors.APIStatus
	if errors.As(refusal, &st) {
		return st.Status().Message
	}
	return refusal.Error()
}
