package packagevariant

import (
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// A draft is forkline's own echo only when nothing a person or Porch can
// change differs from what forkline wrote.
func TestOwnDraftIsExactlyWhatForklineWrote(t *testing.T) {
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}}
	written := func() *porchv1alpha1.PackageRevision {
		pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Name: "d", ResourceVersion: "c1", Annotations: map[string]string{"a": "1"}}}
		pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
		return pr
	}
	now := metav1.Now()
	for _, c := range []struct {
		name   string
		change func(*porchv1alpha1.PackageRevision)
		own    bool
	}{
		{"unchanged", func(*porchv1alpha1.PackageRevision) {}, true},
		{"new commit (a person pushed)", func(pr *porchv1alpha1.PackageRevision) { pr.ResourceVersion = "c2" }, false},
		{"rejected: back to Draft, same commit", func(pr *porchv1alpha1.PackageRevision) {
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDraft
		}, false},
		{"annotation changed, same commit", func(pr *porchv1alpha1.PackageRevision) { pr.Annotations["a"] = "2" }, false},
		{"a finalizer added", func(pr *porchv1alpha1.PackageRevision) { pr.Finalizers = []string{"person"} }, false},
		{"being deleted", func(pr *porchv1alpha1.PackageRevision) { pr.DeletionTimestamp = &now }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &echoes{}
			e.wroteDraft(pv, written())
			seen := written()
			c.change(seen)
			if got := e.isOwnDraft(pv, seen); got != c.own {
				t.Errorf("isOwnDraft = %v, want %v", got, c.own)
			}
			e.unknown(pv)
			if e.isOwnDraft(pv, written()) {
				t.Error("after a failed write, the draft still reads as forkline's own")
			}
		})
	}
}

// A person who changes the draft and changes it back (a hold added, then
// removed) brings it back to forkline's last write: that is their change,
// which forkline must see, not an echo.
func TestChangedBackIsNotAnEcho(t *testing.T) {
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}}
	proposed := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Name: "d", ResourceVersion: "c1", Annotations: map[string]string{"a": "1"}}}
	held := proposed.DeepCopy()
	held.Annotations["forkline.dev/hold"] = "CAB review"
	e := &echoes{}
	e.wroteDraft(pv, proposed)
	if e.isOwnDraft(pv, held) {
		t.Fatal("the person's hold reads as forkline's own")
	}
	e.saw(pv, held) // the reconcile the hold's event caused
	if e.isOwnDraft(pv, proposed) {
		t.Error("the hold's removal reads as an echo of forkline's proposal")
	}
	e.wroteDraft(pv, proposed)
	e.saw(pv, proposed) // a reconcile that saw nothing new keeps the echo
	if !e.isOwnDraft(pv, proposed) {
		t.Error("seeing forkline's own write ended its echo")
	}
}

// The created draft's event may come after the proposal was made: both
// are forkline's own until a read shows something else.
func TestEarlierWritesOfASyncAreEchoes(t *testing.T) {
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}}
	created := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Name: "d", ResourceVersion: "c1"}}
	created.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDraft
	proposed := created.DeepCopy()
	proposed.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
	e := &echoes{}
	e.wroteDraft(pv, created)
	e.wroteDraft(pv, proposed)
	if !e.isOwnDraft(pv, created) || !e.isOwnDraft(pv, proposed) {
		t.Error("a write of this sync does not read as forkline's own")
	}
	next := created.DeepCopy()
	next.Name = "d2"
	e.wroteDraft(pv, next)
	if e.isOwnDraft(pv, proposed) {
		t.Error("the previous sync's draft still reads as forkline's own")
	}
	e.wroteDraft(pv, created)
	e.wroteDraft(pv, proposed)
	e.saw(pv, created) // a read shows the draft back in Draft: rejected
	if e.isOwnDraft(pv, proposed) || e.isOwnDraft(pv, created) {
		t.Error("after a read showed another state, a write still reads as an echo")
	}
}

// The API server's watch event for a status write can come before its
// answer: the echo is the state sent, compared as the watch brings it back
// (another resourceVersion, times to the second).
func TestStatusEchoSkipsOnlyForklinesOwnWrite(t *testing.T) {
	e := &echoes{}
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", ResourceVersion: "7", Generation: 2}}
	pv.Status.Sync = &v1.SyncStatus{Phase: v1.PhaseProposed, StartedAt: &metav1.Time{Time: time.Date(2026, 11, 30, 21, 0, 0, 123456789, time.UTC)}}
	update := func(change func(*v1.PackageVariant)) bool {
		next := pv.DeepCopy()
		next.ResourceVersion = "8"
		next.Status.Sync.StartedAt = &metav1.Time{Time: next.Status.Sync.StartedAt.Truncate(time.Second)}
		if change != nil {
			change(next)
		}
		return e.statusEcho().Update(event.UpdateEvent{ObjectOld: pv, ObjectNew: next})
	}
	if !update(nil) {
		t.Error("an update before any write of forkline's was filtered")
	}
	e.writingStatus(pv)
	if update(nil) {
		t.Error("forkline's own status write came back as a reconcile")
	}
	for name, change := range map[string]func(*v1.PackageVariant){
		"spec":       func(pv *v1.PackageVariant) { pv.Generation++ },
		"annotation": func(pv *v1.PackageVariant) { pv.Annotations = map[string]string{v1.AnnotationRetry: "1"} },
		"status":     func(pv *v1.PackageVariant) { pv.Status.Sync.Phase = v1.PhaseEdited },
		"deletion":   func(pv *v1.PackageVariant) { pv.DeletionTimestamp = &metav1.Time{Time: time.Now()} },
	} {
		if !update(change) {
			t.Errorf("a person's change of the %s was filtered", name)
		}
	}
	e.statusUnknown(pv)
	if !update(nil) {
		t.Error("after a failed write, the state it meant was filtered")
	}
	e.writingStatus(pv)
	e.forget(variantKey(pv))
	if !update(nil) {
		t.Error("a forgotten variant's update was filtered")
	}
}

// Porch sends a created draft's event before it answers the create: the
// draft being created is forkline's own, and nothing else in the package.
func TestDraftBeingCreatedIsOwn(t *testing.T) {
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}}
	pv.Spec.Downstream.Repo = "fork"
	pv.Spec.Upstream.Package = "app"
	draft := func(ws string, lc porchv1alpha1.PackageRevisionLifecycle) *porchv1alpha1.PackageRevision {
		pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Name: ws}}
		pr.Spec = porchv1alpha1.PackageRevisionSpec{RepositoryName: "fork", PackageName: "app", WorkspaceName: ws, Lifecycle: lc}
		return pr
	}
	e := &echoes{}
	e.creating(pv, "forkline-v1-0-0")
	if !e.isOwnDraft(pv, draft("forkline-v1-0-0", porchv1alpha1.PackageRevisionLifecycleDraft)) {
		t.Error("the draft being created is not forkline's own")
	}
	if e.isOwnDraft(pv, draft("forkline-v0-9-0", porchv1alpha1.PackageRevisionLifecycleDraft)) {
		t.Error("another draft of the package reads as the one being created")
	}
	if e.isOwnDraft(pv, draft("forkline-v1-0-0", porchv1alpha1.PackageRevisionLifecyclePublished)) {
		t.Error("a published revision reads as the draft being created")
	}
	e.creating(pv, "")
	if e.isOwnDraft(pv, draft("forkline-v1-0-0", porchv1alpha1.PackageRevisionLifecycleDraft)) {
		t.Error("after the create returned, its event still reads as forkline's own")
	}
}
