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
