package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
)

// leaseNamespace is where the installation's Role lets the manager keep
// its leader-election lease.
const leaseNamespace = "forkline-system"

// replica is one manager process of a scaled-out installation, in its own
// directory (kubeconfig and log), started with leader election as the
// Deployment runs it.
func replica(t *testing.T, bin, name string, args ...string) *devstack.ManagerProcess {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := devstack.ManagerFrom(bin, dir, managerConfig)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"--leader-elect=true", "--leader-election-namespace=" + leaseNamespace}
	if err := m.Start(append(base, args...)...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Kill()
		// The replica runs as the installation's ServiceAccount: whatever
		// it was refused is a gap in the shipped RBAC.
		if b, _ := os.ReadFile(m.Log); strings.Contains(strings.ToLower(string(b)), "forbidden") {
			t.Errorf("%s was answered Forbidden:\n%s", name, devstack.Tail(m.Log, 20))
		}
	})
	return m
}

// elected waits until the replica's log says it holds its lease.
func elected(ctx context.Context, t *testing.T, m *devstack.ManagerProcess, timeout time.Duration) time.Time {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		b, _ := os.ReadFile(m.Log)
		return strings.Contains(strings.ToLower(string(b)), "successfully acquired lease"), nil
	})
	if err != nil {
		t.Fatalf("%s never acquired its lease: %v\nlog tail:\n%s", m.Log, err, devstack.Tail(m.Log, 30))
	}
	return time.Now()
}

// unpublishedDrafts counts, per downstream repository, the drafts and
// proposals forkline could have duplicated.
func unpublishedDrafts(ctx context.Context, t *testing.T, ns, upstream string) map[string][]string {
	t.Helper()
	var list porchv1alpha1.PackageRevisionList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, pr := range list.Items {
		unpublished := pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDraft || pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleProposed
		if unpublished && pr.Spec.RepositoryName != upstream && pr.DeletionTimestamp == nil {
			out[pr.Spec.RepositoryName] = append(out[pr.Spec.RepositoryName], pr.Name)
		}
	}
	return out
}

// watchForDuplicates checks every 250 ms until stop that no downstream
// repository holds two drafts at once, and reports what it saw.
func watchForDuplicates(ctx context.Context, t *testing.T, ns, upstream string) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	seen := map[string]bool{}
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-time.After(250 * time.Millisecond):
			}
			for repo, drafts := range unpublishedDrafts(ctx, t, ns, upstream) {
				if key := fmt.Sprint(drafts); len(drafts) > 1 && !seen[key] {
					seen[key] = true
					t.Errorf("%s holds %d drafts at once: %v", repo, len(drafts), drafts)
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}

// allProposed waits until the namespace has n variants, each proposing
// revision.
func allProposed(ctx context.Context, t *testing.T, ns string, n int, revision string) {
	const timeout = 2 * time.Minute
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		pvs := variantsIn(ctx, t, ns)
		if len(pvs) != n {
			return false, nil
		}
		for i := range pvs {
			if !phaseIs(v1.PhaseProposed, revision)(&pvs[i]) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("not every variant proposed %s: %v\n%s", revision, err, board(variantsIn(ctx, t, ns)))
	}
}

// TestLeaderElectionFailover runs two replicas of the manager, as a
// Deployment with two replicas does: one wins the lease and fans a policy
// out; it is SIGKILLed in the middle of the fan-out (no lease release, as
// when a node dies); the other takes the lease over once it expires, within
// the lease duration, and finishes the fan-out and the next release. No
// branch ever holds two drafts.
func TestLeaderElectionFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const ns = "ha-e2e"
	branches := []string{"ha-a", "ha-b", "ha-c", "ha-d"}
	if err := smoke.PushUpstreamReleases(env, "ha-upstream", "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "ha-upstream", "app", "v1.0.0", branches...)
	built, err := devstack.BuildManager(t.TempDir(), managerConfig)
	if err != nil {
		t.Fatal(err)
	}

	first := replica(t, built.Bin, "replica-1")
	elected(ctx, t, first, time.Minute)
	second := replica(t, built.Bin, "replica-2")
	stopWatching := watchForDuplicates(ctx, t, ns, "ha-upstream")
	defer stopWatching()

	p := policyOver(ns, "app", "ha-upstream", "1.0.x", branches...)
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The leader is at work: killed as soon as its policy made the
	// variants, it is most likely creating drafts, and a create cut
	// off half-way leaves a draft Porch pushed but never announced (see
	// TestDraftCreateCutOffHalfWay): the new leader must take it on.
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return len(variantsIn(ctx, t, ns)) == len(branches), nil
	}); err != nil {
		t.Fatalf("the leader made no variants: %v\nlog tail:\n%s", err, devstack.Tail(first.Log, 30))
	}
	lease := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: leaseNamespace, Name: "forkline-manager.forkline.dev"}, lease); err != nil {
		t.Fatal(err)
	}
	leaseDuration := time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	t.Logf("leader %s holds lease %s/%s (%s); the drafts so far: %v", *lease.Spec.HolderIdentity, leaseNamespace, lease.Name, leaseDuration, unpublishedDrafts(ctx, t, ns, "ha-upstream"))
	if b, _ := os.ReadFile(second.Log); strings.Contains(strings.ToLower(string(b)), "successfully acquired lease") {
		t.Fatal("both replicas say they hold the lease")
	}

	first.Kill()
	killed := time.Now()
	took := elected(ctx, t, second, 2*leaseDuration).Sub(killed)
	t.Logf("the leader was SIGKILLed; the other replica took the lease over %s later (lease duration %s)", took.Round(100*time.Millisecond), leaseDuration)
	// client-go's bound: the waiting replica retries every RetryPeriod
	// (2 s, jittered by up to 1.2x more), sees the last renewal up to one
	// retry late, and calls the lease expired leaseDuration after that;
	// it takes it at its next retry. Sooner would be two leaders at once.
	const retry = 2 * time.Second
	if bound := leaseDuration + 2*time.Duration(float64(retry)*2.2); took > bound {
		t.Errorf("takeover took %s, more than client-go's bound of %s (lease %s and two jittered retries)", took, bound, leaseDuration)
	}
	defer func() {
		if t.Failed() {
			t.Logf("the new leader's log tail:\n%s", devstack.Tail(second.Log, 40))
		}
	}()
	allProposed(ctx, t, ns, len(branches), "v1.0.0")

	// The new leader follows the next release alone.
	approveAll(ctx, t, ns)
	if err := smoke.PushUpstreamReleases(env, "ha-upstream", "app", "1.0.1"); err != nil {
		t.Fatal(err)
	}
	allProposed(ctx, t, ns, len(branches), "v1.0.1")
	stopWatching()
	for _, b := range branches {
		if drafts := unpublishedDrafts(ctx, t, ns, "ha-upstream")[b]; len(drafts) != 1 {
			t.Errorf("%s holds %v, want one proposal", b, drafts)
		}
	}
}

// policyOver is an UpstreamPolicy following upstream's package app into
// each of repos on the track versions.
func policyOver(ns, name, upstream, versions string, repos ...string) *v1.UpstreamPolicy {
	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: upstream, Package: "app"}}
	var targets []v1.RepositoryTarget
	for _, r := range repos {
		targets = append(targets, v1.RepositoryTarget{Repo: r, ReleaseTrack: v1.ReleaseTrack{Versions: versions}})
	}
	p.Spec.Targets = []v1.Target{{Repositories: targets}}
	return p
}

// approveAll is a person approving every proposal in the namespace.
func approveAll(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	v := &variantTest{t: t, ctx: ctx, ns: ns}
	for _, pv := range variantsIn(ctx, t, ns) {
		if pv.Status.Sync == nil || pv.Status.Sync.Phase != v1.PhaseProposed {
			t.Fatalf("%s has nothing proposed", pv.Name)
		}
		v.porchctl("rpkg", "approve", pv.Status.Sync.Draft)
		v.key = client.ObjectKeyFromObject(&pv)
		v.waitVariant("published", time.Minute, func(pv *v1.PackageVariant) bool {
			return pv.Status.Sync != nil && pv.Status.Sync.Phase == v1.PhasePublished
		})
	}
}

// TestShardsSplitTheVariants runs two shard managers, as Flux shards its
// controllers: --watch-label-selector=forkline.dev/shard=a and =b. Each
// reconciles only the policies labelled for it, and their variants, which
// carry the policy's shard label; with only shard a running, shard b's
// policy is untouched. Moving a policy to another shard moves its variants
// with it.
func TestShardsSplitTheVariants(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const ns = "shard-e2e"
	if err := smoke.PushUpstreamReleases(env, "shard-upstream", "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "shard-upstream", "app", "v1.0.0", "shard-a1", "shard-a2", "shard-b1")
	built, err := devstack.BuildManager(t.TempDir(), managerConfig)
	if err != nil {
		t.Fatal(err)
	}
	policy := func(name, shard string, repos ...string) *v1.UpstreamPolicy {
		p := policyOver(ns, name, "shard-upstream", "1.0.x", repos...)
		p.Labels = map[string]string{v1.LabelShard: shard}
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	policy("app-a", "a", "shard-a1", "shard-a2")
	pb := policy("app-b", "b", "shard-b1")

	metricsA := freeAddr(t)
	shardA := replica(t, built.Bin, "shard-a", "--watch-label-selector="+v1.LabelShard+"=a", "--metrics-bind-address="+metricsA)
	allProposed(ctx, t, ns, 2, "v1.0.0")
	// Shard b has no manager yet: its policy was never touched.
	time.Sleep(2 * time.Second)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pb), pb); err != nil {
		t.Fatal(err)
	}
	if len(pb.Status.Conditions) > 0 || len(variantsIn(ctx, t, ns)) != 2 {
		t.Fatalf("shard a's manager touched shard b's policy: conditions %v\n%s", pb.Status.Conditions, board(variantsIn(ctx, t, ns)))
	}

	metricsB := freeAddr(t)
	shardB := replica(t, built.Bin, "shard-b", "--watch-label-selector="+v1.LabelShard+"=b", "--metrics-bind-address="+metricsB)
	// Both shards lead at once: each has its own lease.
	elected(ctx, t, shardA, time.Minute)
	elected(ctx, t, shardB, time.Minute)
	allProposed(ctx, t, ns, 3, "v1.0.0")
	for _, pv := range variantsIn(ctx, t, ns) {
		if want := strings.TrimPrefix(pv.Labels["forkline.dev/upstream-policy"], "app-"); pv.Labels[v1.LabelShard] != want {
			t.Errorf("variant %s of policy %s has shard %q, want %q", pv.Name, pv.Labels["forkline.dev/upstream-policy"], pv.Labels[v1.LabelShard], want)
		}
	}
	gotA, gotB := reconciledPhase(t, metricsA, "Proposed"), reconciledPhase(t, metricsB, "Proposed")
	t.Logf("shard a reports %v; shard b reports %v", gotA, gotB)
	if len(gotA) != 2 || len(gotB) != 1 || strings.Contains(strings.Join(gotA, " "), "app-b") || !strings.Contains(strings.Join(gotB, " "), "app-b") {
		t.Errorf("the shards did not split the variants by policy: a %v, b %v", gotA, gotB)
	}

	// A person moves app-b to shard a: its variant follows.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pb), pb); err != nil {
		t.Fatal(err)
	}
	pb.Labels[v1.LabelShard] = "a"
	if err := env.Client.Update(ctx, pb); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, pv := range variantsIn(ctx, t, ns) {
			if pv.Labels[v1.LabelShard] != "a" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("app-b's variant did not follow its policy to shard a:\n%s\nshard a's log tail:\n%s", board(variantsIn(ctx, t, ns)), devstack.Tail(shardA.Log, 30))
	}
	// Shard a now reconciles it: a person's approvals show in its metrics,
	// all three variants published.
	approveAll(ctx, t, ns)
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return len(reconciledPhase(t, metricsA, "Published")) == 3, nil
	})
	if err != nil {
		t.Errorf("shard a does not report the three variants published: %v", reconciledPhase(t, metricsA, "Published"))
	}
	t.Logf("after the move, shard a reports published %v", reconciledPhase(t, metricsA, "Published"))
}

// reconciledPhase lists the variants of ns a manager's metrics show in phase.
func reconciledPhase(t *testing.T, addr, phase string) []string {
	const ns = "shard-e2e"
	t.Helper()
	m, err := scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for series, x := range m {
		if strings.HasPrefix(series, "forkline_variant_phase{") && strings.Contains(series, `namespace="`+ns+`"`) && strings.Contains(series, `phase="`+phase+`"`) && x == 1 {
			out = append(out, series[strings.Index(series, `variant="`)+9:strings.LastIndex(series, `"`)])
		}
	}
	return out
}
