// Creating the draft of the target release.
//
// createDraft picks how the draft starts: Porch's clone of the target on
// the first sync, a copy of the last published revision on that release
// for a rollback, else a copy of the latest published revision, which
// mergeDraft then merges. diagnose names why Porch refused it.

package packagevariant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

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
		WorkspaceName:  porchv1alpha1.WorkspaceName(ws),
		Lifecycle:      porchv1alpha1.PackageRevisionLifecycleDraft,
	}
	draft.Annotations = map[string]string{v1.AnnotationSync: s.key}
	restore := lastGoodOn(s.downstream, target.Revision)
	mergeFirst := false
	switch {
	case s.published == nil:
		draft.Spec.Tasks = []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeClone, Clone: &porchv1alpha1.PackageCloneTaskSpec{
			Upstream: porchv1alpha1.UpstreamPackage{UpstreamRef: &porchv1alpha1.PackageRevisionRef{Name: target.Name}},
		}}}
	case release.Older(target.Revision, s.current) && restore != nil:
		// A rollback: the last revision published on that release, copied
		// as it is, not a backward merge.
		draft.Spec.Tasks = []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeEdit, Edit: &porchv1alpha1.PackageEditTaskSpec{
			Source: &porchv1alpha1.PackageRevisionRef{Name: restore.Name},
		}}}
		draft.Annotations[v1.AnnotationRollbackOf] = restore.Name
	default:
		draft.Spec.Tasks = []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeEdit, Edit: &porchv1alpha1.PackageEditTaskSpec{
			Source: &porchv1alpha1.PackageRevisionRef{Name: s.published.Name},
		}}}
		mergeFirst = !s.rebuild
	}
	draft.Labels = pv.Spec.Labels
	for k, v := range pv.Spec.Annotations {
		draft.Annotations[k] = v
	}
	stampOwner(draft, pv)
	r.echoes.creating(pv, ws)
	defer r.echoes.creating(pv, "")
	if mergeFirst {
		created, ok, err := r.createMerged(ctx, s, draft.DeepCopy())
		if err != nil || ok {
			return created, err
		}
	}
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

// mergedCreateBytes is the package size from which an upgrade's draft is
// created merged: below it Porch's write of a draft is quick, and its
// answer carries the render's findings (validators' warnings), which a
// create does not report.
const mergedCreateBytes = 1 << 20

// created records a draft Porch made for this sync.
func (r *Reconciler) created(s *scope, draft *porchv1alpha1.PackageRevision) {
	metrics.DraftsCreated.Inc()
	r.echoes.wroteDraft(s.pv, draft)
	s.fresh = true
	s.cloned = s.published == nil
	started := metav1.NewTime(s.now)
	s.pv.Status.Sync = &v1.SyncStatus{From: s.current, To: s.selection.Target.Revision, Draft: draft.Name, Phase: v1.PhaseMerging, StartedAt: &started}
}

// createMerged makes an upgrade's draft already merged, in one request:
// Porch copies the published revision and applies forkline's merge as a
// patch task, then renders once. This is what a clone costs Porch, where
// writing the merge into a copied draft costs it, for a package of
// thousands of resources, many times that (each write of a draft's
// resources compares every old resource with every new one). ok is false,
// with nothing created, where the merge ends the sync or does not fit one
// request, or where Porch refuses the patched draft (a render the steps
// broke, say): the draft is then made as a plain copy and merged into,
// whose write reports all of it as it always has.
func (r *Reconciler) createMerged(ctx context.Context, s *scope, draft *porchv1alpha1.PackageRevision) (*porchv1alpha1.PackageRevision, bool, error) {
	pv := s.pv
	from, err := r.resources(ctx, pv.Namespace, s.published.Name)
	if err != nil || packageBytes(from) < mergedCreateBytes {
		return nil, false, err
	}
	before, result := pv.Status.Sync.DeepCopy(), s.result
	fallBack := func() (*porchv1alpha1.PackageRevision, bool, error) {
		pv.Status.Sync, s.result, s.done, s.mergedFrom = before, result, false, nil
		return nil, false, nil
	}
	m, err := r.mergeFiles(ctx, s, "a new draft", maps.Clone(from))
	if err != nil {
		return nil, false, err
	}
	if m == nil {
		return fallBack()
	}
	task, fits := porch.PatchTask(from, m.files)
	if !fits {
		return fallBack()
	}
	if b, err := json.Marshal(task); err == nil {
		metrics.WriteBytes.Observe(float64(len(b)))
	}
	conflicts := pv.Status.Sync.Conflicts
	draft.Spec.Tasks = append(draft.Spec.Tasks, porchv1alpha1.Task{Type: porchv1alpha1.TaskTypePatch, Patch: task})
	if err := r.client.Create(ctx, draft); err != nil {
		if !refusedByPorch(err) {
			return nil, false, createError(s, draft, err)
		}
		log.FromContext(ctx).Info("Porch refused the merged draft; making a copy to merge into", "error", err.Error())
		return fallBack()
	}
	r.created(s, draft)
	s.draft, s.mergedFrom = draft, from
	pv.Status.Sync.ConflictCount, pv.Status.Sync.Conflicts = int32(m.conflicts), conflicts
	// What Porch stored (rendered) is what the next steps check and
	// propose, and the record that tells a person's later edit apart.
	switch err := r.readContent(ctx, s); {
	case err != nil:
		// readDraft reads it again and says what keeps it from it; the
		// draft has no record yet, which reads as forkline's own.
		log.FromContext(ctx).Info("reading the draft just created", "draft", draft.Name, "error", err.Error())
	case s.done:
		return draft, true, nil
	default:
		s.written = porch.FileDigests(s.prr.Spec.Resources)
		s.unrecorded = true
	}
	r.merged(s, m)
	return draft, true, nil
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
