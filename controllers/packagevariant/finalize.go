// Finalizing a deleted variant.
//
// finalize applies the deletion policy to the revisions the variant made;
// what happens to each revision is decided by retirement, a pure function.

package packagevariant

import (
	"context"
	"errors"
	"fmt"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
)

// finalize applies the deletion policy to the revisions this variant made
// (known by its UID): delete removes its untouched drafts and proposals and
// proposes its published revisions for deletion (never hard-deleted);
// orphan leaves them as they are. A draft a person edited is released, and
// a person's own revisions are never touched. No revision carries an
// ownerReference to the variant, so the garbage collector deletes nothing.
func (r *Reconciler) finalize(ctx context.Context, s *scope) error {
	pv := s.pv
	if !controllerutil.ContainsFinalizer(pv, Finalizer) {
		return nil
	}
	var down porchv1alpha1.PackageRevisionList
	if err := r.client.List(ctx, &down, client.InNamespace(pv.Namespace),
		client.MatchingFields{indexPackage: packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}); err != nil {
		return fmt.Errorf("listing downstream revisions: %w", err)
	}
	s.downstream = down.Items
	if err := r.claim(ctx, s); err != nil {
		return err
	}
	if pv.Spec.EffectiveDeletionPolicy() == v1.DeletionDelete {
		for i := range s.downstream {
			if err := r.retire(ctx, pv, &s.downstream[i]); err != nil {
				return err
			}
		}
	}
	patch := client.MergeFrom(pv.DeepCopy())
	controllerutil.RemoveFinalizer(pv, Finalizer)
	return r.client.Patch(ctx, pv, patch)
}

// retirement is what deletionPolicy delete does to one downstream revision.
type retirement int

const (
	// leave: not the variant's (a person's own revision), or the branch's
	// placeholder.
	leave retirement = iota
	// deleteUnlessEdited: a draft or proposal of the variant's, deleted if
	// untouched; one a person edited is released to them.
	deleteUnlessEdited
	// proposeDeletion: a published release of the variant's, proposed for
	// deletion and never deleted by forkline.
	proposeDeletion
)

// retirementOf decides what deleting the variant does to a revision.
func retirementOf(pr *porchv1alpha1.PackageRevision, pv *v1.PackageVariant) retirement {
	if !ownedBy(pr, pv) {
		return leave
	}
	switch pr.Spec.Lifecycle {
	case porchv1alpha1.PackageRevisionLifecycleDraft, porchv1alpha1.PackageRevisionLifecycleProposed:
		return deleteUnlessEdited
	case porchv1alpha1.PackageRevisionLifecyclePublished:
		if porch.Number(pr) >= 0 {
			return proposeDeletion
		}
	}
	return leave
}

// retire removes one of the variant's revisions per deletionPolicy delete.
func (r *Reconciler) retire(ctx context.Context, pv *v1.PackageVariant, pr *porchv1alpha1.PackageRevision) error {
	switch retirementOf(pr, pv) {
	case deleteUnlessEdited:
		edited, err := r.editedByPerson(ctx, pr)
		if err != nil {
			return err
		}
		if edited {
			r.event(pv, corev1.EventTypeNormal, "DraftReleased", "draft %s holds a person's work (an edit, or a conflict resolution forkline went on from): it stays in Porch as theirs", pr.Name)
			return nil
		}
		if err := r.client.Delete(ctx, pr); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", pr.Name, err)
		}
	case proposeDeletion:
		err := r.revisions.Update(ctx, pr, func(pr *porchv1alpha1.PackageRevision) {
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDeletionProposed
		})
		if errors.Is(err, porch.ErrTerminating) {
			r.event(pv, corev1.EventTypeWarning, "ReleaseTerminating", "%s is marked for deletion (Porch's record of it was garbage-collected) and any write would delete it for real: forkline leaves it as it is", pr.Name)
			return nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("proposing %s for deletion: %w", pr.Name, err)
		}
	case leave:
	}
	return nil
}
