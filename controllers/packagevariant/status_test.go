package packagevariant

import (
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/status"
)

// TestKstatusReadsEveryState: how a GitOps tool (kstatus, as Flux and
// Config Sync use it) reads each state a reconcile can leave a variant in.
func TestKstatusReadsEveryState(t *testing.T) {
	porchDown := apierrors.NewServiceUnavailable("the server is currently unable to handle the request (get packagerevisions.porch.kpt.dev app)")
	cases := []struct {
		state     string
		end       func(s *scope)
		err       error
		want      kstatus.Status
		wantReady string // Ready's status and reason, e.g. "True/Proposed"
	}{
		// forkline working
		{"merging", func(s *scope) { setPhase(s, v1.PhaseMerging, "merging upstream v2 into d") }, nil, kstatus.InProgressStatus, "False/Merging"},
		{"rendering", func(s *scope) { setPhase(s, v1.PhaseRendering, "merged cleanly; rendering") }, nil, kstatus.InProgressStatus, "False/Rendering"},
		{"repository not ready", func(s *scope) { s.end(status.Progressing, "RepositoryNotReady", "waiting for Porch") }, nil, kstatus.InProgressStatus, "False/RepositoryNotReady"},
		{"porch unavailable", nil, porchDown, kstatus.InProgressStatus, "False/PorchUnavailable"},
		{"git unavailable", nil, apierrors.NewInternalError(fmt.Errorf("error cloning: repository not found")), kstatus.InProgressStatus, "False/GitUnavailable"},
		{"write conflict", nil, apierrors.NewConflict(schema.GroupResource{Resource: "packagerevisions"}, "d", fmt.Errorf("modified")), kstatus.InProgressStatus, "False/Conflict"},
		// waiting on a person
		{"proposed", func(s *scope) { setPhase(s, v1.PhaseProposed, "approve it") }, nil, kstatus.CurrentStatus, "True/Proposed"},
		{"conflicted", func(s *scope) { setPhase(s, v1.PhaseConflicted, "2 merge conflict(s)") }, nil, kstatus.CurrentStatus, "True/Conflicted"},
		{"edited draft", func(s *scope) { setPhase(s, v1.PhaseEdited, "edited by a person") }, nil, kstatus.CurrentStatus, "True/Edited"},
		{"declined", func(s *scope) { setPhase(s, v1.PhaseDeclined, "rejected by a person") }, nil, kstatus.CurrentStatus, "True/Declined"},
		{"suspended", func(s *scope) { s.end(status.Waiting, "Suspended", "spec.suspend is true") }, nil, kstatus.CurrentStatus, "True/Suspended"},
		{"release too new", func(s *scope) { s.end(status.Waiting, "ReleaseTooNew", "v2 is 1h old") }, nil, kstatus.CurrentStatus, "True/ReleaseTooNew"},
		{"nothing matching yet", func(s *scope) { s.end(status.Waiting, "NothingToSync", "no match") }, nil, kstatus.CurrentStatus, "True/NothingToSync"},
		// up to date
		{"up to date", func(s *scope) { s.end(status.Done, "UpToDate", "on v2") }, nil, kstatus.CurrentStatus, "True/UpToDate"},
		// a person must fix something
		{"invalid spec", func(s *scope) { stall(s, "InvalidSpec", "bad constraint") }, nil, kstatus.FailedStatus, "False/InvalidSpec"},
		{"render failed", func(s *scope) { setPhase(s, v1.PhaseFailed, "rendering failed") }, nil, kstatus.FailedStatus, "False/Failed"},
		{"published with conflicts", func(s *scope) { stall(s, "PublishedWithConflicts", "fix it") }, nil, kstatus.FailedStatus, "False/PublishedWithConflicts"},
	}
	for _, tc := range cases {
		t.Run(tc.state, func(t *testing.T) {
			// Start from the opposite state, so nothing of it may linger.
			pv := &v1.PackageVariant{}
			pv.Generation = 2
			prev := &scope{pv: pv}
			stall(prev, "InvalidSpec", "earlier")
			setCondition(pv, v1.ConditionAwaitingApproval, true, "Proposed", "earlier")
			summarize(pv.DeepCopy(), pv, prev, nil, time.Now())

			before := pv.DeepCopy()
			dropDomainConditions(pv)
			s := &scope{pv: pv}
			if tc.end != nil {
				tc.end(s)
			}
			if tc.err == nil {
				pv.Status.ObservedGeneration = pv.Generation
			}
			summarize(before, pv, s, tc.err, time.Now())

			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pv)
			if err != nil {
				t.Fatal(err)
			}
			res, err := kstatus.Compute(&unstructured.Unstructured{Object: obj})
			if err != nil {
				t.Fatal(err)
			}
			ready := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionReady)
			if res.Status != tc.want || string(ready.Status)+"/"+ready.Reason != tc.wantReady {
				t.Errorf("kstatus %s, Ready %s/%s (%s); want %s, Ready %s", res.Status, ready.Status, ready.Reason, ready.Message, tc.want, tc.wantReady)
			}
			if meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionReconciling) && meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionStalled) {
				t.Error("Reconciling and Stalled both True")
			}
			if c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionAwaitingApproval); c != nil {
				t.Errorf("AwaitingApproval outlived the state it described: %+v", c)
			}
			if tc.err != nil && !strings.Contains(ready.Message, "unavailable since") && res.Message != "" && ready.Reason != "Conflict" {
				t.Errorf("an outage's message does not say since when: %q", ready.Message)
			}
			t.Logf("%-26s kstatus %-10s Ready=%s/%s", tc.state, res.Status, ready.Status, ready.Reason)
		})
	}
}

func TestOutageKeepsItsStart(t *testing.T) {
	err := apierrors.NewServiceUnavailable("the server is currently unable to handle the request (get packagerevisions.porch.kpt.dev x)")
	start := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	pv := &v1.PackageVariant{}
	summarize(pv.DeepCopy(), pv, &scope{pv: pv}, err, start)
	before := pv.DeepCopy()
	summarize(before, pv, &scope{pv: pv}, err, start.Add(time.Minute))
	ready := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionReady)
	if !strings.Contains(ready.Message, "Porch's API is unavailable since 2026-11-22T09:00:00Z;") {
		t.Errorf("Ready message %q does not keep the outage's start", ready.Message)
	}
}

func TestSyncName(t *testing.T) {
	for want, s := range map[string]*v1.SyncStatus{
		"first sync to v1.21.2":   {To: "v1.21.2"},
		"sync v1.21.2 -> v1.21.3": {From: "v1.21.2", To: "v1.21.3"},
		"sync v1.21.3 -> v1.21.2": {From: "v1.21.3", To: "v1.21.2"},
	} {
		if got := syncName(s); got != want {
			t.Errorf("syncName(%+v) = %q, want %q", s, got, want)
		}
	}
}

func TestPipelineOrderMoved(t *testing.T) {
	kptfile := func(names ...string) map[string]string {
		k := "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: app\npipeline:\n  mutators:\n"
		for _, n := range names {
			k += "  - name: " + n + "\n    image: x\n"
		}
		return map[string]string{porch.KptfileName: k}
	}
	for _, c := range []struct {
		name                string
		published, proposed map[string]string
		want                string
	}{
		{"appended before, prepended now", kptfile("set-labels", "forkline.app.bump.0"), kptfile("forkline.app.bump.0", "set-labels"), "the variant's functions now run before the package's own"},
		{"back to last", kptfile("forkline.app.bump.0", "set-labels"), kptfile("set-labels", "forkline.app.bump.0"), "the variant's functions now run after the package's own"},
		{"same order", kptfile("forkline.app.bump.0", "set-labels"), kptfile("forkline.app.bump.0", "set-labels"), ""},
		{"only the variant's", kptfile("forkline.app.bump.0"), kptfile("forkline.app.bump.0"), ""},
		{"first sync", nil, kptfile("forkline.app.bump.0", "set-labels"), ""},
		{"another variant's name", kptfile("set-labels", "forkline.other.bump.0"), kptfile("forkline.other.bump.0", "set-labels"), ""},
	} {
		if got := pipelineOrderMoved("app", c.published, c.proposed); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
