package packagevariant

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

func TestSetReady(t *testing.T) {
	type cond struct {
		t      string
		status bool
		reason string
	}
	cases := map[string]struct {
		conds      []cond
		suspend    bool
		err        error
		wantReady  bool
		wantReason string
	}{
		"up to date":        {conds: []cond{{v1.ConditionUpToDate, true, "UpToDate"}}, wantReady: true, wantReason: "UpToDate"},
		"stalled wins":      {conds: []cond{{v1.ConditionStalled, true, "InvalidSpec"}, {v1.ConditionUpToDate, true, "UpToDate"}}, wantReason: "InvalidSpec"},
		"conflicts":         {conds: []cond{{v1.ConditionConflicted, true, "Conflicts"}}, wantReason: "Conflicts"},
		"awaiting approval": {conds: []cond{{v1.ConditionAwaitingApproval, true, "Proposed"}}, wantReason: "Proposed"},
		"suspended":         {suspend: true, wantReason: "Suspended"},
		"transient error":   {err: errors.New("boom"), conds: []cond{{v1.ConditionUpToDate, true, "UpToDate"}}, wantReason: "Error"},
		"behind":            {conds: []cond{{v1.ConditionUpToDate, false, "Behind"}}, wantReason: "Behind"},
		"nothing yet":       {wantReason: "Progressing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pv := &v1.PackageVariant{}
			pv.Spec.Suspend = tc.suspend
			for _, c := range tc.conds {
				setCondition(pv, c.t, c.status, c.reason, "")
			}
			setReady(pv, tc.err)
			ready := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionReady)
			if ready == nil {
				t.Fatal("no Ready condition")
			}
			if (ready.Status == "True") != tc.wantReady || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %s/%s, want %v/%s", ready.Status, ready.Reason, tc.wantReady, tc.wantReason)
			}
		})
	}
}
