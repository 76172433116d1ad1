package packagevariant

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
	kstatus "github.com/forkline/forkline/internal/status"
)

// healthCheckInterval is how often the health check is read while an
// automatic publish soaks: the object is any kind, so it is read, not
// watched.
const healthCheckInterval = 10 * time.Second

// forklineHold starts the hold reasons forkline sets itself; such a hold
// does not stop the rollback that set it.
const forklineHold = "forkline: "

// soak is what watching an automatic publish found.
type soak struct {
	// until is when the soak of the latest automatic publish ends; zero
	// when nothing soaks.
	until time.Time
	// health is the health check's kstatus and message, as last read.
	health, message string
	// revision is the published revision being watched.
	revision string
}

// watching says whether the next automatic approval must wait: a publish
// soaks, or its soak ended without the health check being Current.
func (k soak) watching(now time.Time) bool {
	return !k.until.IsZero() && (now.Before(k.until) || k.health != string(status.CurrentStatus))
}

// watchHealth watches the latest automatic publish for its soak time. A
// health check that turns Failed rolls the branch back to the previous
// published revision (status.rollbackTo, taken like a pin), skips the
// release (status.skipped) and holds the variant with the reason. It also
// ends a rollback once it is published.
func (r *Reconciler) watchHealth(ctx context.Context, s *scope) error {
	pv := s.pv
	if rb := pv.Status.RollbackTo; rb != "" && s.current == rb {
		pv.Status.RollbackTo = ""
	}
	a := pv.Spec.Approval
	p := s.published
	if a == nil || a.HealthCheck == nil || p == nil || p.Annotations[v1.AnnotationRollbackOf] != "" || pv.Status.RollbackTo != "" {
		return nil
	}
	approved, err := time.Parse(time.RFC3339, p.Annotations[v1.AnnotationApprovedAt])
	if err != nil {
		return nil // a person published it: not forkline's to watch
	}
	until := approved.Add(a.EffectiveSoakTime())
	health, message, err := r.health(ctx, pv)
	if err != nil {
		return err
	}
	s.soak = soak{until: until, health: health, message: message, revision: porch.Revision(p)}
	if !s.soak.watching(s.now) {
		s.soak = soak{}
		return nil
	}
	if health != string(status.FailedStatus) || !s.now.Before(until) {
		s.requeue = healthCheckInterval
		return nil
	}
	bad := s.current
	check := fmt.Sprintf("%s/%s", a.HealthCheck.Kind, a.HealthCheck.Name)
	reason := fmt.Sprintf("%srolled back %s (upstream %s): health check %s turned Failed %s after forkline approved it: %s; remove this annotation to let automatic approval go on",
		forklineHold, porch.Revision(p), bad, check, s.now.Sub(approved).Round(time.Second), firstLine(message))
	// The hold goes on a copy: the patch answers with the stored status,
	// which must not replace what this reconcile is recording.
	held := pv.DeepCopy()
	patch := client.MergeFrom(held.DeepCopy())
	if held.Annotations == nil {
		held.Annotations = map[string]string{}
	}
	held.Annotations[v1.AnnotationHold] = reason
	if err := r.client.Patch(ctx, held, patch); err != nil {
		return fmt.Errorf("holding the variant: %w", err)
	}
	pv.Annotations, pv.ResourceVersion = held.Annotations, held.ResourceVersion
	s.metadataWritten = true
	if !slices.Contains(pv.Status.Skipped, bad) {
		pv.Status.Skipped = append(pv.Status.Skipped, bad)
	}
	if prev := previousPublished(s.downstream, p); prev != nil {
		pv.Status.RollbackTo = upstreamRevisionOf(prev)
	}
	r.event(pv, corev1.EventTypeWarning, "HealthCheckFailed", "%s turned Failed after forkline published %s (upstream %s): rolling back to upstream %q, skipping %s, holding the variant",
		check, porch.Revision(p), bad, pv.Status.RollbackTo, bad)
	// The skip and the rollback target are recorded before anything acts
	// on them: the next reconcile rolls back.
	s.soak = soak{}
	s.end(kstatus.Progressing, "RollingBack", fmt.Sprintf("health check %s turned Failed: rolling back to upstream %s", check, pv.Status.RollbackTo))
	s.requeue = time.Second
	return nil
}

// health reads the health check's object and computes its kstatus.
func (r *Reconciler) health(ctx context.Context, pv *v1.PackageVariant) (string, string, error) {
	hc := pv.Spec.Approval.HealthCheck
	gv, err := schema.ParseGroupVersion(hc.APIVersion)
	if err != nil {
		return "", "", fmt.Errorf("approval.healthCheck.apiVersion %q: %w", hc.APIVersion, err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gv.WithKind(hc.Kind))
	// Never another namespace: validate stalls a variant naming one.
	ns := pv.Namespace
	switch err := r.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: hc.Name}, u); {
	case apierrors.IsNotFound(err):
		return string(status.NotFoundStatus), fmt.Sprintf("%s %s/%s not found", hc.Kind, ns, hc.Name), nil
	case err != nil:
		return "", "", fmt.Errorf("reading health check %s %s/%s: %w", hc.Kind, ns, hc.Name, err)
	}
	res, err := status.Compute(u)
	if err != nil {
		return string(status.UnknownStatus), err.Error(), nil
	}
	return string(res.Status), res.Message, nil
}

// previousPublished is the published release before p (by vN).
func previousPublished(prs []porchv1alpha1.PackageRevision, p *porchv1alpha1.PackageRevision) *porchv1alpha1.PackageRevision {
	var before []porchv1alpha1.PackageRevision
	for i := range prs {
		if prs[i].Name != p.Name && revisionNumber(&prs[i]) < revisionNumber(p) {
			before = append(before, prs[i])
		}
	}
	return porch.LatestPublished(before)
}

// waitingFor says what the next automatic approval waits for.
func (k soak) waitingFor(pv *v1.PackageVariant) string {
	hc := pv.Spec.Approval.HealthCheck
	what := fmt.Sprintf("%s/%s is %s", hc.Kind, hc.Name, k.health)
	if k.message != "" {
		what += " (" + firstLine(k.message) + ")"
	}
	return fmt.Sprintf("%s soaks until %s; %s", k.revision, k.until.UTC().Format("15:04:05 MST"), what)
}

// isForklineHold says whether a hold is the one forkline set when it
// rolled back.
func isForklineHold(reason string) bool { return strings.HasPrefix(reason, forklineHold) }
