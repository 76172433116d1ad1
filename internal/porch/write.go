package porch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"gomodules.xyz/jsonpatch/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Terminating says whether a revision is being deleted. Porch finishes the
// deletion of a terminating revision on the next update that leaves it
// without finalizers, whatever that update was for.
func Terminating(pr *porchv1alpha1.PackageRevision) bool {
	return pr.DeletionTimestamp != nil
}

// ErrTerminating is returned instead of writing to a revision that is
// being deleted.
var ErrTerminating = errors.New("the revision is being deleted")

// testOp is a JSON patch test; unlike jsonpatch.Operation it sends a null
// value, which tests that the field is absent.
type testOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// notTerminating is the first operation of every patch forkline sends a
// revision: the API server applies the patch to the revision as Porch
// holds it at that moment, and rejects the whole patch when it has a
// deletionTimestamp.
var notTerminating = testOp{Op: "test", Path: "/metadata/deletionTimestamp", Value: nil}

// Revisions writes PackageRevisions without ever finishing a deletion.
//
// Why: Porch keeps a revision's metadata in an internal object owned by
// the revision. When Porch briefly drops a revision from its cache (it
// re-lists a repository while a draft is created), the garbage collector
// finds the owner missing and deletes that object, leaving the revision
// terminating; Porch then hard-deletes the revision on its next plain
// update, published or not. Porch sends no event for it, so a cache can
// show the revision alive.
type Revisions struct {
	Client client.Client
	// Fresh reads past any cache: it tells a terminating revision apart
	// when the API server refuses a patch.
	Fresh client.Reader
}

// ErrMoved is returned instead of writing to a revision whose content is
// no longer at the commit the write was meant for.
var ErrMoved = errors.New("the revision's content changed")

// Update writes what mutate changes in a revision (metadata, lifecycle) as
// one JSON patch that holds only if the revision is not being deleted;
// ErrTerminating when it is.
func (w Revisions) Update(ctx context.Context, pr *porchv1alpha1.PackageRevision, mutate func(*porchv1alpha1.PackageRevision)) error {
	return w.patch(ctx, pr, mutate, "", "", "")
}

// UpdateAt is Update that holds only while the revision's content is still
// at commit (Porch's resourceVersion of a revision is its git commit, which
// metadata and lifecycle writes keep); ErrMoved when it is not.
func (w Revisions) UpdateAt(ctx context.Context, pr *porchv1alpha1.PackageRevision, commit string, mutate func(*porchv1alpha1.PackageRevision)) error {
	return w.patch(ctx, pr, mutate, "", commit, "")
}

// Approve publishes a proposal through Porch's approval subresource, with
// the annotations mutate sets in the same write; guarded as UpdateAt, so
// what is published is what was judged, and only while the revision has
// no unless annotation (a person's hold: Porch v1.5 can answer a read
// without an annotation it has just taken).
func (w Revisions) Approve(ctx context.Context, pr *porchv1alpha1.PackageRevision, commit, unless string, mutate func(*porchv1alpha1.PackageRevision)) error {
	return w.patch(ctx, pr, func(pr *porchv1alpha1.PackageRevision) {
		pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecyclePublished
		mutate(pr)
	}, "approval", commit, unless)
}

// ErrAnnotated is returned instead of approving a revision that carries
// the annotation the approval was to be made without.
var ErrAnnotated = errors.New("the revision has the annotation")

func (w Revisions) patch(ctx context.Context, pr *porchv1alpha1.PackageRevision, mutate func(*porchv1alpha1.PackageRevision), subresource, commit, unless string) error {
	if Terminating(pr) {
		return fmt.Errorf("%s: %w", pr.Name, ErrTerminating)
	}
	if commit != "" && pr.ResourceVersion != commit {
		return fmt.Errorf("%s is at commit %s, not %s: %w", pr.Name, pr.ResourceVersion, commit, ErrMoved)
	}
	if unless != "" && hasAnnotation(pr, unless) {
		return fmt.Errorf("%s has %s: %w", pr.Name, unless, ErrAnnotated)
	}
	before, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	mutate(pr)
	after, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	ops, err := jsonpatch.CreatePatch(before, after)
	if err != nil || len(ops) == 0 {
		return err
	}
	patch := []any{notTerminating}
	if commit != "" {
		patch = append(patch, testOp{Op: "test", Path: "/metadata/resourceVersion", Value: commit})
	}
	if unless != "" {
		patch = append(patch, testOp{Op: "test", Path: "/metadata/annotations/" + escapePointer(unless), Value: nil})
	}
	for _, op := range ops {
		if op.Operation == "add" && (op.Path == "/metadata/annotations" || op.Path == "/metadata/labels") {
			// A whole map, because the caller's copy had none: only while
			// the revision has none either. Porch v1.5 can answer a read
			// without the annotations it holds; adding the map would
			// replace them all.
			patch = append(patch, testOp{Op: "test", Path: op.Path, Value: nil})
		}
		patch = append(patch, op)
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	raw := client.RawPatch(types.JSONPatchType, data)
	if subresource == "" {
		err = w.Client.Patch(ctx, pr, raw)
	} else {
		err = w.Client.SubResource(subresource).Patch(ctx, pr, raw)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		// The test failed (the API server answers 422 Invalid), or the
		// write failed for another reason: a fresh read tells which.
		fresh := &porchv1alpha1.PackageRevision{}
		switch gerr := w.Fresh.Get(ctx, client.ObjectKeyFromObject(pr), fresh); {
		case gerr != nil:
		case Terminating(fresh):
			pr.DeletionTimestamp = fresh.DeletionTimestamp
			return fmt.Errorf("%s: %w", pr.Name, ErrTerminating)
		case commit != "" && fresh.ResourceVersion != commit:
			return fmt.Errorf("%s moved to commit %s from %s: %w", pr.Name, fresh.ResourceVersion, commit, ErrMoved)
		case unless != "" && hasAnnotation(fresh, unless):
			return fmt.Errorf("%s has %s: %w", pr.Name, unless, ErrAnnotated)
		}
	}
	return err
}

// escapePointer escapes a key for a JSON pointer (RFC 6901).
func escapePointer(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

func hasAnnotation(pr *porchv1alpha1.PackageRevision, key string) bool {
	_, ok := pr.Annotations[key]
	return ok
}
