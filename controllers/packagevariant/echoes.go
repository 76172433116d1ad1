package packagevariant

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// echoes remembers, per variant, what forkline itself last wrote: the
// variant (a fingerprint of it with its status) and its draft (a
// fingerprint). Both are recorded as the write is sent, not once it is
// answered: the API server's and Porch's watch events can come first.
// An object seen exactly so is forkline's own write coming back: its watch
// event needs no reconcile. Anything else, a person's change above all,
// differs and is reconciled as before; a reconcile still reads the draft
// fresh, as Porch does not send an event for every change. One entry a
// variant, dropped with the variant.
type echoes struct {
	mu sync.Mutex
	by map[types.NamespacedName]echo
}

type echo struct {
	variant string // the variant as forkline's last status write leaves it
	// drafts are the draft as forkline's writes of this sync left it (name
	// and fingerprint, the latest last): the watch may bring an earlier
	// one (the created draft) after a later one (the proposal). Once a
	// read shows the draft otherwise they are forgotten: an event that
	// brings it back to such a state after a person changed it (a hold
	// removed) is theirs, not an echo.
	drafts []string
	// creating is the workspace of a draft forkline is creating right now:
	// Porch sends its event before it answers the create.
	creating string
}

func (e *echoes) update(key types.NamespacedName, f func(*echo)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.by == nil {
		e.by = map[types.NamespacedName]echo{}
	}
	ec := e.by[key]
	f(&ec)
	e.by[key] = ec
}

func (e *echoes) get(key types.NamespacedName) echo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.by[key]
}

func (e *echoes) forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.by, key)
}

// writingStatus records the variant as the status write about to be sent
// leaves it.
func (e *echoes) writingStatus(pv *v1.PackageVariant) {
	e.update(variantKey(pv), func(ec *echo) { ec.variant = variantFingerprint(pv) })
}

// statusUnknown forgets it: the write failed.
func (e *echoes) statusUnknown(pv *v1.PackageVariant) {
	e.update(variantKey(pv), func(ec *echo) { ec.variant = "" })
}

// draftEchoes is how many of a sync's writes are remembered: a sync
// writes its draft at most four times (create, content, record,
// proposal), each remembered as sent and as answered.
const draftEchoes = 8

// wroteDraft records the draft as Porch answered forkline's write of it.
func (e *echoes) wroteDraft(pv *v1.PackageVariant, pr *porchv1alpha1.PackageRevision) {
	e.update(variantKey(pv), func(ec *echo) {
		if len(ec.drafts) > 0 && !strings.HasPrefix(ec.drafts[0], pr.Name+"/") {
			ec.drafts = nil // a new sync's draft
		}
		ec.drafts = append(ec.drafts, pr.Name+"/"+fingerprint(pr))
		if len(ec.drafts) > draftEchoes {
			ec.drafts = ec.drafts[len(ec.drafts)-draftEchoes:]
		}
	})
}

// saw tells what a fresh read of the draft showed: anything but forkline's
// latest write ends the echoes.
func (e *echoes) saw(pv *v1.PackageVariant, pr *porchv1alpha1.PackageRevision) {
	e.update(variantKey(pv), func(ec *echo) {
		if n := len(ec.drafts); n == 0 || ec.drafts[n-1] != pr.Name+"/"+fingerprint(pr) {
			ec.drafts = nil
		}
	})
}

// unknown forgets the draft's writes: a write that failed leaves it as
// nobody knows.
func (e *echoes) unknown(pv *v1.PackageVariant) {
	e.update(variantKey(pv), func(ec *echo) { ec.drafts = nil })
}

// creating marks the workspace of the draft being created ("" once the
// create returned).
func (e *echoes) creating(pv *v1.PackageVariant, ws string) {
	e.update(variantKey(pv), func(ec *echo) { ec.creating = ws })
}

// isOwnDraft says pr is exactly as one of forkline's writes of it left it,
// or is the draft forkline is creating.
func (e *echoes) isOwnDraft(pv *v1.PackageVariant, pr *porchv1alpha1.PackageRevision) bool {
	ec := e.get(variantKey(pv))
	if ec.creating != "" && string(pr.Spec.WorkspaceName) == ec.creating && pr.Spec.RepositoryName == pv.Spec.Downstream.Repo &&
		pr.Spec.PackageName == pv.Spec.DownstreamPackage() && pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDraft {
		return true
	}
	return slices.Contains(ec.drafts, pr.Name+"/"+fingerprint(pr))
}

// statusEcho filters update events of variants that only carry forkline's
// own last status write.
func (e *echoes) statusEcho() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(ev event.UpdateEvent) bool {
		pv, ok := ev.ObjectNew.(*v1.PackageVariant)
		if !ok {
			return true
		}
		own := e.get(variantKey(pv)).variant
		return own == "" || own != variantFingerprint(pv)
	}}
}

// variantFingerprint is all of a variant a person or forkline can change,
// but its resourceVersion: its spec (by generation), metadata and status,
// as JSON has them (times to the second), so the state forkline sends and
// the one the watch brings back compare equal.
func variantFingerprint(pv *v1.PackageVariant) string {
	b, err := json.Marshal(struct {
		Generation     int64
		Deleting       bool
		Labels, Annots map[string]string
		Finalizers     []string
		Status         v1.PackageVariantStatus
	}{pv.Generation, pv.DeletionTimestamp != nil, pv.Labels, pv.Annotations, pv.Finalizers, pv.Status})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func variantKey(pv *v1.PackageVariant) types.NamespacedName {
	return types.NamespacedName{Namespace: pv.Namespace, Name: pv.Name}
}

// fingerprint is what a person or Porch can change on a revision: its
// content (Porch's resourceVersion is the commit), its spec and metadata.
// Porch keeps the commit on a metadata-only change, so the commit alone
// would not do.
func fingerprint(pr *porchv1alpha1.PackageRevision) string {
	if pr == nil {
		return ""
	}
	b, err := json.Marshal(struct {
		Name, Version  string
		Deleting       bool
		Labels, Annots map[string]string
		Finalizers     []string
		Owners         any
		Spec           porchv1alpha1.PackageRevisionSpec
	}{pr.Name, pr.ResourceVersion, pr.DeletionTimestamp != nil, pr.Labels, pr.Annotations, pr.Finalizers, pr.OwnerReferences, pr.Spec})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
