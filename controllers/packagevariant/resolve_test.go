package packagevariant

import (
	"strings"
	"testing"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"

	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
	"github.com/forkline/forkline/internal/status"
)

func TestIdleStateOf(t *testing.T) {
	clean := &porchv1alpha1.PackageRevision{}
	conflicted := &porchv1alpha1.PackageRevision{Status: porchv1alpha1.PackageRevisionStatus{Conditions: []porchv1alpha1.Condition{
		{Type: porch.ConflictsGate, Status: porchv1alpha1.ConditionFalse},
	}}}
	conflicted.Name = "down-v2"
	porch.SetRevision(conflicted, "v2")
	cases := map[string]struct {
		current   string
		published *porchv1alpha1.PackageRevision
		sel       release.Selection
		want      status.Outcome
		reason    string
		says      string
	}{
		"nothing taken yet":                  {"", nil, release.Selection{Message: "no release matches 1.30.x"}, status.Waiting, "NothingToSync", "no release matches 1.30.x"},
		"up to date":                         {"v1.21.3", clean, release.Selection{}, status.Done, "UpToDate", "downstream is on upstream v1.21.3"},
		"up to date, the selection says why": {"v1.21.3", clean, release.Selection{Message: "pinned to v1.21.3"}, status.Done, "UpToDate", "pinned to v1.21.3"},
		"next release too new":               {"v1.21.3", clean, release.Selection{Waiting: "v1.21.4 is 2h old"}, status.Waiting, "ReleaseTooNew", "v1.21.4 is 2h old"},
		"published with open conflicts":      {"v1.21.3", conflicted, release.Selection{Waiting: "v1.21.4 is 2h old"}, status.Stalled, "PublishedWithConflicts", "down-v2 (v2) was approved by hand"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := idleStateOf(tc.current, tc.published, tc.sel)
			if got.outcome != tc.want || got.reason != tc.reason || !strings.Contains(got.message, tc.says) {
				t.Errorf("idleStateOf = %+v, want %v %s containing %q", got, tc.want, tc.reason, tc.says)
			}
		})
	}
}
