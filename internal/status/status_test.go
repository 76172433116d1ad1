package status

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestClassify(t *testing.T) {
	pr := schema.GroupResource{Group: "porch.kpt.dev", Resource: "packagerevisions"}
	cases := []struct {
		name       string
		err        error
		outcome    Outcome
		wantReason string
	}{
		{"aggregated API down", apierrors.NewServiceUnavailable("the server is currently unable to handle the request (get packagerevisions.porch.kpt.dev d)"), Unavailable, "PorchUnavailable"},
		{"porch timeout", apierrors.NewTimeoutError("get packagerevisions.porch.kpt.dev d", 1), Unavailable, "PorchUnavailable"},
		{"porch unreachable", fmt.Errorf("reading draft d: %w", errors.New(`Get "https://127.0.0.1:6443/apis/porch.kpt.dev/v1alpha1/namespaces/x/packagerevisions/d": dial tcp 127.0.0.1:6443: connect: connection refused`)), Unavailable, "PorchUnavailable"},
		{"git 503 through porch", apierrors.NewInternalError(errors.New("error cloning repository: unexpected client error: unexpected requesting \"http://127.0.0.1/x.git/info/refs\" status code: 503")), Unavailable, "GitUnavailable"},
		{"git repository gone", fmt.Errorf("creating draft: %w", apierrors.NewInternalError(errors.New("repository not found"))), Unavailable, "GitUnavailable"},
		{"kube-apiserver down", fmt.Errorf("listing: %w", context.DeadlineExceeded), Unavailable, "APIServerUnavailable"},
		{"write race", apierrors.NewConflict(pr, "d", errors.New("the object has been modified")), Progressing, "Conflict"},
		{"anything else", errors.New("boom"), Progressing, "Retrying"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.err)
			if got.Outcome != tc.outcome || got.Reason != tc.wantReason {
				t.Errorf("Classify = %s/%s (%s), want %s/%s", got.Outcome, got.Reason, got.Message, tc.outcome, tc.wantReason)
			}
		})
	}
}

// A reconcile that derives the same conditions in another order must
// produce the same status, or it writes (and wakes its watchers) for
// nothing.
func TestConcludeIsIndependentOfConditionOrder(t *testing.T) {
	now := metav1.Now()
	domain := func(types ...string) []metav1.Condition {
		var out []metav1.Condition
		for _, ty := range types {
			out = append(out, metav1.Condition{Type: ty, Status: metav1.ConditionFalse, Reason: "R", LastTransitionTime: now})
		}
		return out
	}
	result := Result{Outcome: Waiting, Reason: "Proposed", Message: "waiting"}
	// The first reconcile, then a second that sets the domain conditions in
	// another order, as the step that ends it differs.
	a := domain("UpToDate", "Conflicted", "AwaitingApproval")
	Conclude(&a, nil, 1, result, nil, now.Time)
	var kstatus []metav1.Condition
	for _, c := range a {
		if c.Type == "Ready" || c.Type == "Reconciling" || c.Type == "Stalled" {
			kstatus = append(kstatus, c)
		}
	}
	b := slices.Concat(kstatus, domain("AwaitingApproval", "UpToDate", "Conflicted"))
	Conclude(&b, a, 1, result, nil, now.Time)
	if !equality.Semantic.DeepEqual(a, b) {
		t.Errorf("same conditions, different status:\n%v\n%v", a, b)
	}
	var order []string
	for _, c := range a {
		order = append(order, c.Type)
	}
	if want := "Ready Reconciling Stalled AwaitingApproval Conflicted UpToDate"; strings.Join(order, " ") != want {
		t.Errorf("order %v, want %s", order, want)
	}
}
