package status

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
