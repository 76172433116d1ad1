package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
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

	p := policyOver(ns, "app", "fault-upstream", "1.21.x", branches...)
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The fan-out is under way: the variants exist.
	variants := func() []v1.PackageVariant { return variantsIn(ctx, t, ns) }
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

// variantsIn lists the namespace's variants.
func variantsIn(ctx context.Context, t *testing.T, ns string) []v1.PackageVariant {
	t.Helper()
	var list v1.PackageVariantList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
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

// TestGitOutages takes the upstream git repository away for 30 s, then one
// downstream repository. Porch serves what it already listed from its
// cache, so the upstream outage breaks nothing: no variant is blamed or
// Failed, and a release published meanwhile is proposed once Porch can
// fetch it. The downstream outage stops the draft Porch must push: that
// variant says git is unavailable, and since when, while its sibling goes
// on; both converge once the repository is back. The test prints the
// recovery times.
func TestGitOutages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns = "fault-git"
	if err := smoke.PushUpstreamReleases(env, "gout-upstream", "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	branches := []string{"gout-a", "gout-b"}
	registerRepos(ctx, t, ns, "gout-upstream", "app", "v1.0.0", branches...)
	stop := startManager(t)
	defer stop()
	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "gout-upstream", Package: "app"}}
	p.Spec.Targets = []v1.Target{{Repositories: []v1.RepositoryTarget{
		{Repo: "gout-a", ReleaseTrack: v1.ReleaseTrack{Versions: "1.0.x"}},
		{Repo: "gout-b", ReleaseTrack: v1.ReleaseTrack{Versions: "1.0.x"}},
	}}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	v := &variantTest{t: t, ctx: ctx, ns: ns}
	variants := func() []v1.PackageVariant { return variantsIn(ctx, t, ns) }
	// proposed waits until every branch proposes release, then approves.
	proposed := func(release string, since time.Time, what string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
			pvs := variants()
			for i := range pvs {
				if !phaseIs(v1.PhaseProposed, release)(&pvs[i]) {
					return false, nil
				}
			}
			return len(pvs) == len(branches), nil
		})
		if err != nil {
			t.Fatalf("not every branch proposed %s: %v\n%s", release, err, board(variants()))
		}
		t.Logf("every branch proposed %s %s after %s", release, time.Since(since).Round(100*time.Millisecond), what)
		for _, pv := range variants() {
			v.porchctl("rpkg", "approve", pv.Status.Sync.Draft)
		}
	}
	// stays checks, for the outage's 30 s, that no variant is Failed and
	// returns the last thing each one said.
	stays := func() map[string]string {
		said := map[string]string{}
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
			for _, pv := range variants() {
				if s := pv.Status.Sync; s != nil && s.Phase == v1.PhaseFailed {
					t.Fatalf("%s is Failed during a git outage: %s", pv.Name, s.Message)
				}
				if meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionStalled) {
					t.Fatalf("%s is Stalled during a git outage:\n%s", pv.Name, board(variants()))
				}
				if r := readyOf(&pv); r != nil {
					said[pv.Name] = r.Reason + ": " + firstLineOf(r.Message)
				}
			}
		}
		return said
	}
	proposed("v1.0.0", time.Now(), "fan-out")

	env.Git.SetDown("gout-upstream", true)
	t.Log("upstream git repository down; upstream publishes v1.0.1 meanwhile")
	if err := smoke.PushUpstreamReleases(env, "gout-upstream", "app", "1.0.1"); err != nil {
		t.Fatal(err)
	}
	for name, said := range stays() {
		t.Logf("during the upstream outage, %s: %s", name, said)
		if strings.Contains(said, "Unavailable") {
			t.Errorf("%s blames an outage that does not stop it: %s", name, said)
		}
	}
	env.Git.SetDown("gout-upstream", false)
	proposed("v1.0.1", time.Now(), "the upstream's return (Porch fetches every 10 s)")

	env.Git.SetDown("gout-a", true)
	t.Log("downstream git repository gout-a down; upstream publishes v1.0.2")
	if err := smoke.PushUpstreamReleases(env, "gout-upstream", "app", "1.0.2"); err != nil {
		t.Fatal(err)
	}
	said := stays()
	for name, s := range said {
		t.Logf("during gout-a's outage, %s: %s", name, s)
	}
	mustContain(t, "gout-a during its outage", said["app-gout-a-app"], "GitUnavailable", "unavailable since")
	mustContain(t, "gout-b during gout-a's outage", said["app-gout-b-app"], "Proposed", "v1.0.2")
	env.Git.SetDown("gout-a", false)
	proposed("v1.0.2", time.Now(), "gout-a's return")
	for _, b := range branches {
		drafts := 0
		for _, pr := range v.downstreamOf(b) {
			if pr.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecyclePublished {
				drafts++
			}
		}
		if drafts != 0 {
			t.Errorf("%s holds %d unpublished revisions after the outages, want none (no duplicate drafts)", b, drafts)
		}
	}
}
