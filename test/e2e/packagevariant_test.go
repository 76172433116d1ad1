package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/controllers"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/manager"
	"github.com/forkline/forkline/internal/porch"
)

// newManager builds forkline's manager, controllers registered, as
// cmd/manager does, on cfg.
func newManager(t *testing.T, cfg *rest.Config, opts manager.Options) ctrl.Manager {
	t.Helper()
	if opts.MetricsAddr == "" {
		opts.MetricsAddr = "0"
	}
	if opts.ProbeAddr == "" {
		opts.ProbeAddr = "0"
	}
	if opts.Porch == nil {
		opts.Porch = &porch.Support{}
	}
	mgr, err := manager.New(cfg, opts)
	if err == nil {
		err = controllers.Setup(t.Context(), mgr, controllers.Options{AllowRestarts: true, Porch: opts.Porch})
	}
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// startManager runs forkline's manager against the stack until stop.
func startManager(t *testing.T) (stop func()) {
	t.Helper()
	return startManagerWith(t, manager.Options{})
}

// startManagerWith is startManager with options: a shard's selector, so
// a test restarting its manager often is not slowed by what other tests
// left in the cluster.
func startManagerWith(t *testing.T, opts manager.Options) (stop func()) {
	t.Helper()
	return startManagerOn(t, managerConfig, opts)
}

// startManagerOn is startManagerWith on a config of its own (one that
// records the manager's requests, say), which must be managerConfig's
// identity.
func startManagerOn(t *testing.T, cfg *rest.Config, opts manager.Options) (stop func()) {
	t.Helper()
	mgr := newManager(t, cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	denied := forbidden.Load()
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			// Past this, a worker ignores its cancelled context: name it.
			t.Logf("the manager has not stopped 20 s after its context ended; its goroutines:\n%s", forklineStacks())
			err = <-done
		}
		if err != nil {
			t.Errorf("manager stopped with an error: %v", err)
		}
		if n := forbidden.Load() - denied; n > 0 {
			t.Errorf("the manager, running with config/rbac's ClusterRole, was forbidden %d request(s): see the log", n)
		}
	}
}

// forklineStacks returns the stacks of every goroutine running forkline's
// code, the ones a stuck shutdown waits on.
func forklineStacks() string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "forkline/forkline/controllers") || strings.Contains(g, "forkline/forkline/internal") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

type variantTest struct {
	t   *testing.T
	ctx context.Context
	ns  string
	key client.ObjectKey
}

// createVariant creates pv and returns the handle the test follows it by.
func createVariant(ctx context.Context, t *testing.T, ns string, pv *v1.PackageVariant) *variantTest {
	t.Helper()
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	return &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKeyFromObject(pv)}
}

// waitVariant polls the variant until cond holds, showing its status on
// timeout.
func (v *variantTest) waitVariant(what string, timeout time.Duration, cond func(*v1.PackageVariant) bool) *v1.PackageVariant {
	v.t.Helper()
	pv := &v1.PackageVariant{}
	err := wait.PollUntilContextTimeout(v.ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, v.key, pv); err != nil {
			return false, nil
		}
		return cond(pv), nil
	})
	if err != nil {
		v.t.Fatalf("variant never reached %q: %v\nstatus: %+v\nconditions: %+v", what, err, pv.Status.Sync, pv.Status.Conditions)
	}
	return pv
}

func phaseIs(phase v1.SyncPhase, to string) func(*v1.PackageVariant) bool {
	return func(pv *v1.PackageVariant) bool {
		return pv.Status.Sync != nil && pv.Status.Sync.Phase == phase && pv.Status.Sync.To == to
	}
}

// awaiting says whether a variant's proposal waits on the gate (its
// AwaitingApproval reason).
func awaiting(gate string) func(*v1.PackageVariant) bool {
	return func(pv *v1.PackageVariant) bool {
		c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionAwaitingApproval)
		return c != nil && c.Reason == gate
	}
}

func (v *variantTest) porchctl(args ...string) string {
	v.t.Helper()
	out, err := env.Porchctl(v.ctx, append(args, "--namespace", v.ns)...)
	if err != nil {
		v.t.Fatal(err)
	}
	return out
}

func (v *variantTest) draftResources(name string) map[string]string {
	v.t.Helper()
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := env.Client.Get(v.ctx, client.ObjectKey{Namespace: v.ns, Name: name}, prr); err != nil {
		v.t.Fatal(err)
	}
	return prr.Spec.Resources
}

// registerRepos makes the namespace, registers the repositories with Porch
// and waits until the upstream package's newest release is Published.
func registerRepos(ctx context.Context, t *testing.T, ns, upstream, pkg, newest string, downstreams ...string) {
	t.Helper()
	if err := devstack.EnsureNamespace(ctx, env.Client, ns); err != nil {
		t.Fatal(err)
	}
	for _, repo := range append([]string{upstream}, downstreams...) {
		if _, err := env.RegisterRepository(ctx, ns, repo, repo); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.WaitPackageRevision(ctx, ns, upstream, pkg, time.Minute, devstack.Published(newest)); err != nil {
		t.Fatal(err)
	}
}

func (v *variantTest) downstream() []porchv1alpha1.PackageRevision {
	return v.downstreamOf("pv-downstream")
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

// TestPackageVariantLifecycle follows one fork through its life, as its
// owners would: first sync, a local edit kept through an upgrade, releases
// walked oldest first one approval at a time, a controller restart in the
// middle of a sync, a real conflict resolved with porchctl pull/push, and
// deletion that never deletes published content.
func TestPackageVariantLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	v := &variantTest{t: t, ctx: ctx, ns: "pv-e2e", key: client.ObjectKey{Namespace: "pv-e2e", Name: "app"}}
	if err := smoke.PushUpstreamReleases(env, "pv-upstream", "app", "1.21.2", "1.21.3"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, v.ns, "pv-upstream", "app", "v1.21.3", "pv-downstream")
	stop := startManager(t)
	//nolint:gocritic // stop is replaced below by a restarted manager's: the deferred call stops the one running then.
	defer func() { stop() }()

	// First sync, pinned so the fork settles at 1.21.2 first.
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: v.ns, Name: "app"}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: "pv-upstream", Package: "app"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.21.x"}}
	pv.Spec.Downstream = v1.Downstream{Repo: "pv-downstream"}
	pv.Spec.Pin = &v1.Pin{Revision: "v1.21.2", Reason: "settle the fork on 1.21.2 before following"}
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	// AwaitingApproval says so while the proposal waits (Porch may hide the
	// draft for a moment while it re-lists the repository: then forkline
	// says it is waiting to see it).
	got := v.waitVariant("first sync proposed and awaiting approval", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return phaseIs(v1.PhaseProposed, "v1.21.2")(pv) && meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionAwaitingApproval)
	})
	mustContain(t, "first draft's Kptfile", v.draftResources(got.Status.Sync.Draft)["Kptfile"], "ref: app/v1.21.2")
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("on v1.21.2", time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.21.2" && meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate)
	})

	// A person edits the fork: replicas 1 -> 3, published as the next revision.
	published := latestDownstream(t, v.downstream())
	v.porchctl("rpkg", "copy", published.Name, "--workspace", "local-edit")
	var local *porchv1alpha1.PackageRevision
	for _, pr := range v.downstream() {
		if pr.Spec.WorkspaceName == "local-edit" {
			local = pr.DeepCopy()
		}
	}
	if local == nil {
		t.Fatal("porchctl rpkg copy made no draft")
	}
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: v.ns, Name: local.Name}, prr); err != nil {
		t.Fatal(err)
	}
	prr.Spec.Resources["deployment.yaml"] = strings.Replace(prr.Spec.Resources["deployment.yaml"], "replicas: 1", "replicas: 3", 1)
	if err := env.Client.Update(ctx, prr); err != nil {
		t.Fatal(err)
	}
	v.porchctl("rpkg", "propose", local.Name)
	v.porchctl("rpkg", "approve", local.Name)

	// Lift the pin: upgrade to 1.21.3, keeping the local edit.
	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) { pv.Spec.Pin = nil })
	got = v.waitVariant("upgrade to v1.21.3 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.3"))
	if got.Status.Sync.From != "v1.21.2" {
		t.Errorf("sync.from = %q, want v1.21.2", got.Status.Sync.From)
	}
	upgraded := v.draftResources(got.Status.Sync.Draft)
	mustContain(t, "upgrade draft's deployment.yaml", upgraded["deployment.yaml"], "replicas: 3", "image: registry.example.com/app:1.21.3")
	mustContain(t, "upgrade draft's Kptfile", upgraded["Kptfile"], "ref: app/v1.21.3", "commit: ")
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("on v1.21.3", time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.21.3"
	})

	// Upstream tags 1.21.4; the controller is killed as soon as the draft
	// exists and restarted: still exactly one draft for it.
	pushed := time.Now()
	if err := smoke.PushUpstreamReleases(env, "pv-upstream", "app", "1.21.4"); err != nil {
		t.Fatal(err)
	}
	countDrafts := func(ws string) int {
		n := 0
		for _, pr := range v.downstream() {
			if string(pr.Spec.WorkspaceName) == ws {
				n++
			}
		}
		return n
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return countDrafts("forkline-v1-21-4") > 0, nil
	}); err != nil {
		t.Fatalf("no draft for v1.21.4: %v", err)
	}
	stop()
	stop = startManager(t)
	got = v.waitVariant("v1.21.4 proposed after a restart", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.4"))
	t.Logf("upgrade from tag push to proposed draft, including Porch's repository sync and a controller restart: %s", time.Since(pushed).Round(100*time.Millisecond))
	if n := countDrafts("forkline-v1-21-4"); n != 1 {
		t.Errorf("%d drafts for v1.21.4 after the restart, want 1", n)
	}
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	got = v.waitVariant("on v1.21.4", time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.21.4"
	})
	var walked []string
	for i := len(got.Status.History) - 1; i >= 0; i-- {
		walked = append(walked, got.Status.History[i].To)
	}
	if strings.Join(walked, ",") != "v1.21.2,v1.21.3,v1.21.4" {
		t.Errorf("history walked %v, want v1.21.2, v1.21.3, v1.21.4 oldest first", walked)
	}

	// A real conflict: upstream 1.21.5 sets replicas 2, the fork has 3.
	release5 := map[string]string{
		"Kptfile":         fmt.Sprintf(smoke.KptfileTemplate, "app"),
		"deployment.yaml": strings.Replace(releaseDeployment("1.21.5"), "replicas: 1", "replicas: 2", 1),
	}
	if err := env.PushReleases("pv-upstream", "app", devstack.Release{Version: "1.21.5", Files: release5}); err != nil {
		t.Fatal(err)
	}
	got = v.waitVariant("conflict on v1.21.5", 2*time.Minute, phaseIs(v1.PhaseConflicted, "v1.21.5"))
	if !meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionConflicted) {
		t.Errorf("Conflicted should be True: %+v", got.Status.Conditions)
	}
	if got.Status.Sync.ConflictCount != 1 || len(got.Status.Sync.Conflicts) != 1 || got.Status.Sync.Conflicts[0].Path != "spec.replicas" {
		t.Fatalf("want one conflict on spec.replicas, got %d: %+v", got.Status.Sync.ConflictCount, got.Status.Sync.Conflicts)
	}
	c := got.Status.Sync.Conflicts[0]
	if c.Base != "1" || c.Upstream != "2" || c.Downstream != "3" {
		t.Errorf("conflict values base/upstream/downstream = %s/%s/%s, want 1/2/3", c.Base, c.Upstream, c.Downstream)
	}
	draft := got.Status.Sync.Draft
	// The draft carries the gate, False, where kubectl and porchctl show it.
	// (Porch v1.3.0 itself does not enforce readiness gates on propose or
	// approve; forkline never proposes while the gate is False.)
	gated := &porchv1alpha1.PackageRevision{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: v.ns, Name: draft}, gated); err != nil {
		t.Fatal(err)
	}
	if len(gated.Spec.ReadinessGates) != 1 || gated.Spec.ReadinessGates[0].ConditionType != "forkline.dev/conflicts-resolved" {
		t.Errorf("draft readiness gates = %+v, want forkline.dev/conflicts-resolved", gated.Spec.ReadinessGates)
	}
	gateStatus := ""
	for _, c := range gated.Status.Conditions {
		if c.Type == "forkline.dev/conflicts-resolved" {
			gateStatus = string(c.Status)
		}
	}
	if gateStatus != "False" {
		t.Errorf("conflicts gate condition = %q, want False (conditions %+v)", gateStatus, gated.Status.Conditions)
	}
	if gated.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecycleDraft {
		t.Errorf("a conflicted draft is %s, want Draft", gated.Spec.Lifecycle)
	}

	// A person resolves it: pull, take upstream's 2, mark resolved, push.
	dir := filepath.Join(t.TempDir(), "draft")
	v.porchctl("rpkg", "pull", draft, dir)
	edit := func(file, old, updated string) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s lacks %q:\n%s", file, old, b)
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(strings.ReplaceAll(string(b), old, updated)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("deployment.yaml", "replicas: 3", "replicas: 2")
	edit("forkline-conflicts.yaml", "resolved: false", "resolved: true")
	v.porchctl("rpkg", "push", draft, dir)
	got = v.waitVariant("resolved draft proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.5"))
	resolved := v.draftResources(got.Status.Sync.Draft)
	if _, still := resolved["forkline-conflicts.yaml"]; still {
		t.Error("the conflicts file is still in the proposed draft")
	}
	mustContain(t, "resolved deployment.yaml", resolved["deployment.yaml"], "replicas: 2", "app:1.21.5")
	if meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionConflicted) {
		t.Error("Conflicted is still True after the resolution")
	}

	board, _ := env.Kubectl(ctx, "get", "packagevariants.forkline.dev", "-n", v.ns, "-o", "wide")
	t.Logf("kubectl get packagevariants -o wide:\n%s", board)
	events, _ := env.Kubectl(ctx, "get", "events", "-n", v.ns, "--field-selector", "involvedObject.kind=PackageVariant", "-o", "custom-columns=REASON:.reason,MESSAGE:.message")
	t.Logf("events:\n%s", events)
	mustContain(t, "events", events, "Proposed", "Conflicted", "ConflictsResolved")

	// Deletion (policy delete): the proposal holds the person's resolution,
	// so it stays, theirs; published revisions are proposed for deletion,
	// nothing published is deleted.
	publishedBefore := 0
	for _, pr := range v.downstream() {
		if porch.Published(&pr) && !porch.Placeholder(&pr) {
			publishedBefore++
		}
	}
	if err := env.Client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, v.key, &v1.PackageVariant{})
		return client.IgnoreNotFound(err) == nil && err != nil, nil
	}); err != nil {
		t.Fatalf("the variant was not deleted: %v", err)
	}
	var proposedForDeletion int
	var stillDraft []string
	for _, pr := range v.downstream() {
		switch pr.Spec.Lifecycle {
		case porchv1alpha1.PackageRevisionLifecycleDeletionProposed:
			proposedForDeletion++
		case porchv1alpha1.PackageRevisionLifecycleDraft, porchv1alpha1.PackageRevisionLifecycleProposed:
			stillDraft = append(stillDraft, pr.Name)
		}
	}
	if len(stillDraft) != 1 || stillDraft[0] != draft {
		t.Errorf("drafts and proposals left after deletion: %v, want only the resolved proposal %s", stillDraft, draft)
	}
	released, _ := env.Kubectl(ctx, "get", "events", "-n", v.ns, "--field-selector", "reason=DraftReleased", "-o", "custom-columns=MESSAGE:.message")
	mustContain(t, "the DraftReleased event", released, draft, "conflict resolution")
	// Forkline proposes for deletion what it published (the three syncs);
	// the person's own local-edit revision stays Published.
	if proposedForDeletion != 3 || publishedBefore != 4 {
		t.Errorf("published before %d (want 4), proposed for deletion %d (want 3)", publishedBefore, proposedForDeletion)
	}
}

func latestDownstream(t *testing.T, prs []porchv1alpha1.PackageRevision) *porchv1alpha1.PackageRevision {
	t.Helper()
	var best *porchv1alpha1.PackageRevision
	for i := range prs {
		pr := &prs[i]
		if porch.Published(pr) && porch.Number(pr) > 0 && (best == nil || porch.Number(pr) > porch.Number(best)) {
			best = pr
		}
	}
	if best == nil {
		t.Fatal("no published downstream revision")
	}
	return best
}

func patchVariant(t *testing.T, ctx context.Context, key client.ObjectKey, mutate func(*v1.PackageVariant)) {
	t.Helper()
	pv := &v1.PackageVariant{}
	if err := env.Client.Get(ctx, key, pv); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(pv.DeepCopy())
	mutate(pv)
	if err := env.Client.Patch(ctx, pv, patch); err != nil {
		t.Fatal(err)
	}
}

func releaseDeployment(version string) string {
	return fmt.Sprintf(smoke.DeploymentTemplate, "app", version)
}
