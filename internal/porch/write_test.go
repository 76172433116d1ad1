package porch

import (
	"context"
	"errors"
	"testing"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// TestUpdateNeverFinishesADeletion: the guarded patch writes a live
// revision, and refuses one that is terminating, whether the caller's copy
// says so or only the server's does (a stale cache).
func TestUpdateNeverFinishesADeletion(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := porchv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	revision := func(name string, terminating bool) *porchv1alpha1.PackageRevision {
		pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
		pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecyclePublished
		if terminating {
			now := metav1.Now()
			pr.DeletionTimestamp = &now
			pr.Finalizers = []string{"keep"} // the fake client holds terminating objects only with one
		}
		return pr
	}
	for _, tc := range []struct {
		name               string
		stored, caller     *porchv1alpha1.PackageRevision
		wantWritten        bool
		wantErrTerminating bool
	}{
		{name: "live", stored: revision("a", false), caller: revision("a", false), wantWritten: true},
		{name: "terminating on the server, live in the cache", stored: revision("b", true), caller: revision("b", false), wantErrTerminating: true},
		{name: "terminating in the caller's copy", stored: revision("c", true), caller: revision("c", true), wantErrTerminating: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.stored).Build()
			stored := &porchv1alpha1.PackageRevision{}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(tc.stored), stored); err != nil {
				t.Fatal(err)
			}
			tc.caller.ResourceVersion = stored.ResourceVersion
			err := Revisions{Client: c, Fresh: c}.Update(context.Background(), tc.caller, func(pr *porchv1alpha1.PackageRevision) {
				pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDeletionProposed
				pr.Annotations = map[string]string{"forkline.dev/owner": "a"}
			})
			if got := errors.Is(err, ErrTerminating); got != tc.wantErrTerminating {
				t.Errorf("ErrTerminating = %v, want %v (err %v)", got, tc.wantErrTerminating, err)
			}
			if tc.wantWritten != (err == nil) {
				t.Errorf("err = %v, want written %v", err, tc.wantWritten)
			}
			after := &porchv1alpha1.PackageRevision{}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(tc.stored), after); err != nil {
				t.Fatal(err)
			}
			written := after.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDeletionProposed && after.Annotations["forkline.dev/owner"] == "a"
			if written != tc.wantWritten {
				t.Errorf("stored revision written = %v, want %v: %+v", written, tc.wantWritten, after)
			}
		})
	}
}

// TestUpdateAtHoldsOnlyAtTheCommit: a write meant for the content at one
// commit lands while the revision is there, and is refused, named ErrMoved,
// once someone wrote a new commit, whether the caller's copy shows it or
// only the server does.
func TestUpdateAtHoldsOnlyAtTheCommit(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := porchv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		moved       bool // a person pushed after the caller read the revision
		callerFresh bool // the caller's copy shows that push
		wantWritten bool
	}{
		{name: "still at the commit", wantWritten: true},
		{name: "moved on the server", moved: true},
		{name: "moved in the caller's copy too", moved: true, callerFresh: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d"}}
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDraft
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pr).Build()
			ctx := context.Background()
			caller := &porchv1alpha1.PackageRevision{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(pr), caller); err != nil {
				t.Fatal(err)
			}
			judged := caller.ResourceVersion
			if tc.moved {
				push := caller.DeepCopy()
				push.Labels = map[string]string{"pushed": "yes"}
				if err := c.Update(ctx, push); err != nil {
					t.Fatal(err)
				}
				if tc.callerFresh {
					caller = push
				}
			}
			err := Revisions{Client: c, Fresh: c}.UpdateAt(ctx, caller, judged, func(pr *porchv1alpha1.PackageRevision) {
				pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
			})
			if tc.wantWritten != (err == nil) || (!tc.wantWritten && !errors.Is(err, ErrMoved)) {
				t.Errorf("err = %v, want written %v (else ErrMoved)", err, tc.wantWritten)
			}
			after := &porchv1alpha1.PackageRevision{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(pr), after); err != nil {
				t.Fatal(err)
			}
			if written := after.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleProposed; written != tc.wantWritten {
				t.Errorf("stored revision proposed = %v, want %v", written, tc.wantWritten)
			}
		})
	}
}

// TestApprovalHoldsOnlyWithoutTheAnnotation: an approval guarded by a
// person's hold lands without one and is refused, named ErrAnnotated, when
// the server has the hold, whether the caller's copy shows it or only the
// server does (Porch v1.5 answering a read without it). The guard is the
// patch's; the approval subresource is the stack's to show.
func TestApprovalHoldsOnlyWithoutTheAnnotation(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := porchv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	const hold = "forkline.dev/hold"
	for _, tc := range []struct {
		name        string
		held        bool // a person held it after the caller read it
		callerFresh bool // the caller's copy shows the hold
		wantWritten bool
	}{
		{name: "not held", wantWritten: true},
		{name: "held on the server", held: true},
		{name: "held in the caller's copy too", held: true, callerFresh: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Annotations: map[string]string{"forkline.dev/proposed": "now"}}}
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pr).Build()
			ctx := context.Background()
			caller := &porchv1alpha1.PackageRevision{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(pr), caller); err != nil {
				t.Fatal(err)
			}
			if tc.held {
				person := caller.DeepCopy()
				person.Annotations[hold] = "" // no reason given is still a hold
				if err := c.Update(ctx, person); err != nil {
					t.Fatal(err)
				}
				if tc.callerFresh {
					caller = person
				} else {
					caller.ResourceVersion = person.ResourceVersion // Porch keeps the commit
				}
			}
			err := Revisions{Client: c, Fresh: c}.patch(ctx, caller, func(pr *porchv1alpha1.PackageRevision) {
				pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecyclePublished
			}, "", caller.ResourceVersion, hold)
			if tc.wantWritten != (err == nil) || (!tc.wantWritten && !errors.Is(err, ErrAnnotated)) {
				t.Errorf("err = %v, want written %v (else ErrAnnotated)", err, tc.wantWritten)
			}
			after := &porchv1alpha1.PackageRevision{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(pr), after); err != nil {
				t.Fatal(err)
			}
			if published := after.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished; published != tc.wantWritten {
				t.Errorf("stored revision published = %v, want %v", published, tc.wantWritten)
			}
		})
	}
}

// TestUpdateNeverReplacesAnnotationsItDidNotSee: a write from a copy that
// showed no annotations (Porch v1.5 can answer so) adds its annotations
// only to a revision that has none; one that has some is refused, and keeps
// them all.
func TestUpdateNeverReplacesAnnotationsItDidNotSee(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := porchv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		stored      map[string]string
		wantWritten bool
	}{
		{name: "the revision has none either", wantWritten: true},
		{name: "the revision has annotations the copy lacked", stored: map[string]string{"forkline.dev/written-files": "digests"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d", Annotations: tc.stored}}
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pr).Build()
			ctx := context.Background()
			caller := &porchv1alpha1.PackageRevision{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(pr), caller); err != nil {
				t.Fatal(err)
			}
			caller.Annotations = nil // as Porch answered the read
			err := Revisions{Client: c, Fresh: c}.Update(ctx, caller, func(pr *porchv1alpha1.PackageRevision) {
				pr.Annotations = map[string]string{"forkline.dev/owner-uid": "u1"}
			})
			if tc.wantWritten != (err == nil) {
				t.Errorf("err = %v, want written %v", err, tc.wantWritten)
			}
			after := &porchv1alpha1.PackageRevision{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(pr), after); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.stored {
				if after.Annotations[k] != v {
					t.Errorf("annotation %s = %q after the write, want %q kept: %v", k, after.Annotations[k], v, after.Annotations)
				}
			}
			if got := after.Annotations["forkline.dev/owner-uid"] == "u1"; got != tc.wantWritten {
				t.Errorf("owner written = %v, want %v", got, tc.wantWritten)
			}
		})
	}
}
