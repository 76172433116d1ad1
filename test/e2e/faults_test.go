package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack/smoke"
)

// TestPorchOutageDuringFanOut kills porch-server while a policy fans out
// to four branches and starts it again 30 s later: while it is down every
// variant in flight says Porch is unavailable (and since when), nothing is
// called Failed, and after it returns every branch converges by itself.
func TestPorchOutageDuringFanOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns = "fault-porch"
	if err := smoke.PushUpstreamReleases(env, "fault-upstream", "app", "1.21.2"); err != nil {
		t.Fatal(err)
	}
	branches := []string{"fault-a", "fault-b", "fault-c", "fault-d"}
	registerRepos(ctx, t, ns, "fault-upstream", "app", "v1.21.2", branches...)
	stop := startManager(t)
	defer stop()

	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}
	p.Spec.Upstream = v1.PackageRef{Repo: "fault-upstream", Package: "app"}
	var targets []v1.RepositoryTarget
	for _, b := range branches {
		targets = append(targets, v1.RepositoryTarget{Repo: b, ReleaseTrack: v1.ReleaseTrack{Versions: "1.21.x"}})
	}
	p.Spec.Targets = []v1.Target{{Repositories: targets}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The fan-out is under way: the variants exist.
	variants := func() []v1.PackageVariant {
		var list v1.PackageVariantList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return len(variants()) == len(branches), nil
	}); err != nil {
		t.Fatal("the policy did not create its variants")
	}
	if err := env.KillPorch(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	t.Log("porch-server killed")

	// Every variant not yet proposed says Porch is unavailable.
	var unavailable map[string]string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 25*time.Second, true, func(context.Context) (bool, error) {
		unavailable = map[string]string{}
		for _, pv := range variants() {
			ready := readyOf(&pv)
			switch {
			case ready == nil:
				return false, nil
			case ready.Reason == "PorchUnavailable":
				unavailable[pv.Name] = ready.Message
			case ready.Reason == string(v1.PhaseProposed):
			default:
				return false, nil
			}
			if pv.Status.Sync != nil && pv.Status.Sync.Phase == v1.PhaseFailed {
				return false, fmt.Errorf("%s is Failed during an outage: %s", pv.Name, pv.Status.Sync.Message)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("variants during the outage: %v\n%s", err, board(variants()))
	}
	for name, msg := range unavailable {
		t.Logf("during the outage, %s: %s", name, firstLineOf(msg))
	}
	if len(unavailable) == 0 {
		t.Log("every variant was proposed before the kill: no variant in flight")
	}

	time.Sleep(30*time.Second - time.Since(killed))
	if err := env.RestartPorch(ctx); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	t.Logf("porch-server restarted after %s", back.Sub(killed).Round(time.Second))
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		for _, pv := range variants() {
			if pv.Status.Sync == nil || pv.Status.Sync.Phase != v1.PhaseProposed || readyOf(&pv) == nil || readyOf(&pv).Reason != string(v1.PhaseProposed) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the branches did not converge after Porch returned:\n%s", board(variants()))
	}
	t.Logf("recovery: every branch proposed %s after porch-server returned", time.Since(back).Round(100*time.Millisecond))
	for _, b := range branches {
		if n := len((&variantTest{t: t, ctx: ctx, ns: ns}).downstreamOf(b)); n != 1 {
			t.Errorf("%s holds %d revisions after the outage, want its one proposal (no duplicate drafts)", b, n)
		}
	}
}

func readyOf(pv *v1.PackageVariant) *metav1.Condition {
	return meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionReady)
}

func board(pvs []v1.PackageVariant) string {
	out := ""
	for _, pv := range pvs {
		phase := ""
		if pv.Status.Sync != nil {
			phase = string(pv.Status.Sync.Phase)
		}
		ready := readyOf(&pv)
		if ready == nil {
			out += fmt.Sprintf("%s %s (no Ready)\n", pv.Name, phase)
			continue
		}
		out += fmt.Sprintf("%s %s Ready=%s %s: %s\n", pv.Name, phase, ready.Status, ready.Reason, firstLineOf(ready.Message))
	}
	return out
}
