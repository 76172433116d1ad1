package packagevariant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
)

// ownedBy says whether forkline made a revision for this variant: by the
// variant's UID, which survives propose and approve, never by a name.
func ownedBy(pr *porchv1alpha1.PackageRevision, pv *v1.PackageVariant) bool {
	return pv.UID != "" && pr.Annotations[v1.AnnotationOwnerUID] == string(pv.UID)
}

// isOurDraft says whether a revision is an unpublished draft this variant
// made.
func isOurDraft(pr *porchv1alpha1.PackageRevision, pv *v1.PackageVariant) bool {
	return ownedBy(pr, pv) && isUnpublished(pr)
}

func isUnpublished(pr *porchv1alpha1.PackageRevision) bool {
	return pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDraft ||
		pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleProposed
}

// hasOwnerRef says whether a revision carries an ownerReference to the
// variant, as revisions made by forkline before v0.2 do.
func hasOwnerRef(pr *porchv1alpha1.PackageRevision, uid types.UID) bool {
	return slices.ContainsFunc(pr.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == uid })
}

// recognized says whether a revision without annotations is the variant's:
// one its status names (Porch drops annotations when its Repository is
// deleted and registered again, or re-lists a draft during its creation):
// the draft of the current sync or a published revision in its history;
// or a draft in a forkline workspace with no metadata at all. Workspaces
// named forkline-* in a managed package are forkline's.
func recognized(pr *porchv1alpha1.PackageRevision, pv *v1.PackageVariant) bool {
	if pr.Annotations[v1.AnnotationOwnerUID] != "" {
		return false // another variant's, or one a person claimed
	}
	if s := pv.Status.Sync; s != nil && s.Draft == pr.Name {
		return true
	}
	if pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDraft && (len(pr.Annotations) == 0 || onlySyncKey(pr)) &&
		strings.HasPrefix(string(pr.Spec.WorkspaceName), release.WorkspacePrefix) {
		// Porch pushed the draft but never recorded its metadata (the
		// request creating it was cut off), or kept only forkline's sync
		// key of it. The workspace names forkline.
		return true
	}
	rev := porch.Revision(pr)
	if !porch.Published(pr) || rev == "" {
		return false
	}
	return slices.ContainsFunc(pv.Status.History, func(h v1.SyncRecord) bool {
		return h.Revision == rev && h.Phase == v1.PhasePublished
	})
}

// onlySyncKey says the revision's only annotation is forkline's sync key.
func onlySyncKey(pr *porchv1alpha1.PackageRevision) bool {
	_, ok := pr.Annotations[v1.AnnotationSync]
	return ok && len(pr.Annotations) == 1
}

// claim marks the variant's revisions as its own by UID and releases every
// ownerReference to the variant: no revision forkline made can be collected
// by the garbage collector, whoever deletes the variant and how.
func (r *Reconciler) claim(ctx context.Context, s *scope) error {
	for i := range s.downstream {
		if err := r.claimRevision(ctx, s, &s.downstream[i]); err != nil {
			return err
		}
	}
	return nil
}

// claimRevision does claim's work for one revision.
func (r *Reconciler) claimRevision(ctx context.Context, s *scope, pr *porchv1alpha1.PackageRevision) error {
	legacy := hasOwnerRef(pr, s.pv.UID)
	stamp := !ownedBy(pr, s.pv) && (legacy || recognized(pr, s.pv))
	if !legacy && !stamp {
		return nil
	}
	err := r.revisions.Update(ctx, pr, func(pr *porchv1alpha1.PackageRevision) {
		pr.OwnerReferences = slices.DeleteFunc(pr.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == s.pv.UID })
		if stamp {
			stampOwner(pr, s.pv)
			if s.pv.Status.Sync != nil && s.pv.Status.Sync.Draft == pr.Name && s.pv.Status.Sync.Commit != "" {
				pr.Annotations[v1.AnnotationCommit] = s.pv.Status.Sync.Commit
			}
		}
	})
	if err != nil && !apierrors.IsNotFound(err) && !errors.Is(err, porch.ErrTerminating) {
		return fmt.Errorf("recording the variant's ownership on %s: %w", pr.Name, err)
	}
	if legacy {
		r.event(s.pv, corev1.EventTypeNormal, "OwnerReferenceRemoved", "%s no longer carries an ownerReference to the variant: the garbage collector must never delete it", pr.Name)
	}
	return nil
}

func stampOwner(pr *porchv1alpha1.PackageRevision, pv *v1.PackageVariant) {
	if pr.Annotations == nil {
		pr.Annotations = map[string]string{}
	}
	pr.Annotations[v1.AnnotationOwnerUID] = string(pv.UID)
	pr.Annotations[v1.AnnotationOwner] = pv.Name
}

// checkSoleWriter stalls the variant when another variant manages the same
// downstream package: the one whose UID the package's revisions carry, or
// else the older one. Two writers would take turns undoing each other.
func (r *Reconciler) checkSoleWriter(ctx context.Context, s *scope) error {
	var others v1.PackageVariantList
	if err := r.client.List(ctx, &others, client.InNamespace(s.pv.Namespace),
		client.MatchingFields{indexDownstream: packageKey(s.pv.Spec.Downstream.Repo, s.pv.Spec.DownstreamPackage())}); err != nil {
		return fmt.Errorf("listing variants of the downstream package: %w", err)
	}
	owners := map[types.UID]bool{}
	for i := range s.downstream {
		if uid := s.downstream[i].Annotations[v1.AnnotationOwnerUID]; uid != "" {
			owners[types.UID(uid)] = true
		}
	}
	for i := range others.Items {
		o := &others.Items[i]
		if o.UID == s.pv.UID || !o.DeletionTimestamp.IsZero() {
			continue
		}
		if owners[s.pv.UID] && !owners[o.UID] {
			continue
		}
		if owners[o.UID] || (!owners[s.pv.UID] && olderThan(o, s.pv)) {
			stall(s, "DownstreamManagedByAnother", fmt.Sprintf("package %q in Repository %q is managed by PackageVariant %q; one package has one variant: delete this one or change spec.downstream",
				s.pv.Spec.DownstreamPackage(), s.pv.Spec.Downstream.Repo, o.Name))
			return nil
		}
	}
	return nil
}

func olderThan(a, b *v1.PackageVariant) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// editedSince says whether someone wrote the draft, as read, since
// forkline recorded its commit (claim restores a record Porch lost from
// the variant's status). A draft with no record holds only what Porch made
// for forkline (a clone or copy) or what forkline wrote just before it
// stopped (write drops the old record first): it is forkline's own. So
// is a draft forkline proposed unchanged: proposing keeps the commit.
func editedSince(pr *porchv1alpha1.PackageRevision) bool {
	recorded := pr.Annotations[v1.AnnotationCommit]
	return recorded != "" && pr.ResourceVersion != recorded
}

// editedByPerson says whether a revision holds a person's work: edited
// since forkline last wrote it, or holding what a person changed that
// forkline went on from (a conflict resolution it then proposed: the
// draft records it, forkline.dev/changed-by-person). Read fresh before
// forkline decides to delete it: the cache may not show a push yet.
func (r *Reconciler) editedByPerson(ctx context.Context, pr *porchv1alpha1.PackageRevision) (bool, error) {
	if pr.Annotations[v1.AnnotationChangedByPerson] != "" {
		return true, nil
	}
	if pr.Annotations[v1.AnnotationCommit] == "" {
		return false, nil
	}
	fresh := &porchv1alpha1.PackageRevision{}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(pr), fresh); err != nil {
		return false, fmt.Errorf("reading %s: %w", pr.Name, err)
	}
	return editedSince(fresh) || fresh.Annotations[v1.AnnotationChangedByPerson] != "", nil
}

// workspaceOf says whether ws is base or one of freeWorkspace's base-N.
func workspaceOf(ws, base string) bool {
	if ws == base {
		return true
	}
	n, ok := strings.CutPrefix(ws, base+"-")
	i, err := strconv.Atoi(n)
	return ok && err == nil && i >= 2
}

// freeWorkspace is the first of base, base-2, base-3, ... that no revision
// of the package uses. Porch never reuses a workspace name, published or
// deleted-proposed ones included, so a release synced again (a fixed typo,
// a pin back, a re-created variant) needs a new one. The choice depends
// only on what is listed, so a restart reading the same list picks the
// same name and Porch refuses the duplicate.
func freeWorkspace(base string, revisions []porchv1alpha1.PackageRevision) string {
	used := map[string]bool{}
	for i := range revisions {
		used[string(revisions[i].Spec.WorkspaceName)] = true
	}
	if !used[base] {
		return base
	}
	for n := 2; ; n++ {
		if ws := base + "-" + strconv.Itoa(n); !used[ws] {
			return ws
		}
	}
}
