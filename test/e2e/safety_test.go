package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/fanout"
	"github.com/forkline/forkline/internal/porch"
)

// gcGrace is how long a test waits after a deletion for the garbage
// collector to act on anything it could (it acts within seconds here).
const gcGrace = 15 * time.Second

// lsRemote is what the git server holds for a repository, one ref a line,
// without the hashes: what a person sees with git ls-remote.
func lsRemote(t *testing.T, repo string) string {
	t.Helper()
	out, err := devstack.GitOutput("", "ls-remote", env.Git.RepoURL(repo))
	if err != nil {
		t.Fatalf("git ls-remote %s: %v", repo, err)
	}
	var refs []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			refs = append(refs, f[1])
		}
	}
	sort.Strings(refs)
	return strings.Join(refs, " ")
}

func newVariant(ns, name, upstream, downstream, versions string, deletion v1.DeletionPolicy) *v1.PackageVariant {
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: upstream, Package: "app"}, ReleaseTrack: v1.ReleaseTrack{Versions: versions}}
	pv.Spec.Downstream = v1.Downstream{Repo: downstream}
	pv.Spec.DeletionPolicy = deletion
	return pv
}

// lifecycles maps each revision of a downstream package (but the branch's
// placeholder) to its lifecycle.
func lifecycles(v *variantTest, repo string) map[string]porchv1alpha1.PackageRevisionLifecycle {
	out := map[string]porchv1alpha1.PackageRevisionLifecycle{}
	for _, pr := range v.downstreamOf(repo) {
		if !porch.Placeholder(&pr) {
			out[pr.Name] = pr.Spec.Lifecycle
		}
	}
	return out
}

// noOwnerReferences fails if any revision of the package carries an
// ownerReference: the garbage collector would delete it with its owner.
func noOwnerReferences(v *variantTest, repo string) {
	v.t.Helper()
	for _, pr := range v.downstreamOf(repo) {
		if len(pr.OwnerReferences) > 0 {
			v.t.Errorf("%s (%s) carries ownerReferences %+v: the garbage collector could delete it", pr.Name, pr.Spec.Lifecycle, pr.OwnerReferences)
		}
	}
}

// publishEdit is a person's change to a fork: a copy of the latest
// published revision in workspace ws, its deployment edited, proposed and
// approved.
func (v *variantTest) publishEdit(repo, ws, from, to string) {
	v.t.Helper()
	v.porchctl("rpkg", "copy", latestDownstream(v.t, v.downstreamOf(repo)).Name, "--workspace", ws)
	for _, pr := range v.downstreamOf(repo) {
		if string(pr.Spec.WorkspaceName) == ws {
			editDraft(v, pr.Name, from, to)
			v.porchctl("rpkg", "propose", pr.Name)
			v.porchctl("rpkg", "approve", pr.Name)
			return
		}
	}
	v.t.Fatalf("porchctl rpkg copy made no draft in workspace %s of %s", ws, repo)
}

// editDraft changes a draft's deployment the way porchctl rpkg push would.
// Like a person, it tries again when Porch is briefly busy (503, a
// timeout) or the draft moved under it (409).
func editDraft(v *variantTest, name, from, to string) {
	v.t.Helper()
	transient := func(err error) bool {
		return apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
			apierrors.IsConflict(err) || apierrors.IsTooManyRequests(err)
	}
	err := retry.OnError(wait.Backoff{Steps: 6, Duration: 500 * time.Millisecond, Factor: 2}, transient, func() error {
		prr := &porchv1alpha1.PackageRevisionResources{}
		if err := env.Client.Get(v.ctx, client.ObjectKey{Namespace: v.ns, Name: name}, prr); err != nil {
			return err
		}
		prr.Spec.Resources["deployment.yaml"] = strings.Replace(prr.Spec.Resources["deployment.yaml"], from, to, 1)
		return env.Client.Update(v.ctx, prr)
	})
	if err != nil {
		v.t.Fatal(err)
	}
}

func waitDeleted(ctx context.Context, t *testing.T, obj client.Object) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return err != nil && client.IgnoreNotFound(err) == nil, nil
	}); err != nil {
		t.Fatalf("%s was not deleted: %v", obj.GetName(), err)
	}
}

// TestDeletionKeepsPublishedAndEditedWork deletes variants the ways people
// do, on a control plane whose garbage collector runs: with each deletion
// policy, in the background and in the foreground (the garbage collector
// deleting dependents first), with the next proposal untouched or rejected
// and edited by a person. Published revisions and their git tags survive
// every case; a person's edited draft survives every case; only forkline's
// untouched proposal goes, and only under deletionPolicy delete.
func TestDeletionKeepsPublishedAndEditedWork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ns := "del-e2e"
	cases := []struct {
		name       string
		policy     v1.DeletionPolicy
		foreground bool
		edited     bool
	}{
		{"delete-untouched", v1.DeletionDelete, false, false},
		{"delete-edited-fg", v1.DeletionDelete, true, true},
		{"orphan-untouched-fg", v1.DeletionOrphan, true, false},
		{"orphan-edited", v1.DeletionOrphan, false, true},
	}
	if err := smoke.PushUpstreamReleases(env, "del-upstream", "app", "1.21.2", "1.21.3"); err != nil {
		t.Fatal(err)
	}
	var repos []string
	for _, c := range cases {
		repos = append(repos, "del-"+c.name)
	}
	registerRepos(ctx, t, ns, "del-upstream", "app", "v1.21.3", repos...)
	stop := startManager(t)
	defer stop()

	vs := map[string]*variantTest{}
	for _, c := range cases {
		pv := newVariant(ns, c.name, "del-upstream", "del-"+c.name, "1.21.x", c.policy)
		if err := env.Client.Create(ctx, pv); err != nil {
			t.Fatal(err)
		}
		vs[c.name] = &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKeyFromObject(pv)}
	}
	// Each fork publishes v1.21.2 (v1) and gets a proposal for v1.21.3.
	for _, c := range cases {
		v := vs[c.name]
		got := v.waitVariant("v1.21.2 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
		v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	}
	proposals := map[string]string{}
	for _, c := range cases {
		v := vs[c.name]
		got := v.waitVariant("v1.21.3 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.3"))
		proposals[c.name] = got.Status.Sync.Draft
		if c.edited {
			v.porchctl("rpkg", "reject", got.Status.Sync.Draft)
			editDraft(v, got.Status.Sync.Draft, "replicas: 1", "replicas: 5")
			v.waitVariant("edited proposal left to the person", time.Minute, phaseIs(v1.PhaseDeclined, "v1.21.3"))
		}
		noOwnerReferences(v, "del-"+c.name)
	}

	for _, c := range cases {
		v, repo := vs[c.name], "del-"+c.name
		before, refsBefore := lifecycles(v, repo), lsRemote(t, repo)
		pv := &v1.PackageVariant{}
		if err := env.Client.Get(ctx, v.key, pv); err != nil {
			t.Fatal(err)
		}
		var opts []client.DeleteOption
		if c.foreground {
			opts = append(opts, client.PropagationPolicy(metav1.DeletePropagationForeground))
		}
		if err := env.Client.Delete(ctx, pv, opts...); err != nil {
			t.Fatal(err)
		}
		waitDeleted(ctx, t, pv)
		time.Sleep(gcGrace)
		after, refsAfter := lifecycles(v, repo), lsRemote(t, repo)
		t.Logf("%s: git ls-remote %s\n  before: %s\n  after:  %s", c.name, repo, refsBefore, refsAfter)
		if !strings.Contains(refsAfter, "refs/tags/app/v1") {
			t.Errorf("%s: the release tag app/v1 is gone from git: %s", c.name, refsAfter)
		}
		for name, was := range before {
			is, ok := after[name]
			switch {
			case name == proposals[c.name] && c.policy == v1.DeletionDelete && !c.edited:
				if ok {
					t.Errorf("%s: forkline's untouched proposal %s is still there (%s)", c.name, name, is)
				}
			case !ok:
				t.Errorf("%s: %s (%s) was deleted", c.name, name, was)
			case was == porchv1alpha1.PackageRevisionLifecyclePublished && c.policy == v1.DeletionDelete:
				if is != porchv1alpha1.PackageRevisionLifecycleDeletionProposed {
					t.Errorf("%s: published %s is %s, want DeletionProposed", c.name, name, is)
				}
			case is != was:
				t.Errorf("%s: %s went from %s to %s", c.name, name, was, is)
			}
		}
		if c.edited {
			mustContain(t, c.name+" edited draft", v.draftResources(proposals[c.name])["deployment.yaml"], "replicas: 5")
		}
	}
}

// collectRecord deletes Porch's internal record of a revision (its
// PackageRev, owned by the revision) the way the garbage collector does
// when Porch has briefly lost the revision from its cache: the revision
// stays, terminating, and Porch hard-deletes it on its next plain update.
func collectRecord(ctx context.Context, t *testing.T, ns, name string) {
	t.Helper()
	record := &unstructured.Unstructured{}
	record.SetGroupVersionKind(schema.GroupVersionKind{Group: "config.porch.kpt.dev", Version: "v1alpha1", Kind: "PackageRev"})
	record.SetNamespace(ns)
	record.SetName(name)
	if err := env.Client.Delete(ctx, record, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatalf("deleting the PackageRev of %s: %v", name, err)
	}
}

// TestCollectedRecordsLoseNothing: the garbage collector takes Porch's
// records of a published revision and of forkline's proposal (as it does
// when Porch briefly loses them while it re-lists a repository). forkline
// never writes to a terminating revision, which would make Porch delete it
// for real: the release and its git tag survive even the variant's
// deletion under deletionPolicy delete, and the sync goes on in a new
// proposal.
func TestCollectedRecordsLoseNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	ns := "gc-e2e"
	if err := smoke.PushUpstreamReleases(env, "gc-upstream", "app", "1.21.2", "1.21.3"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "gc-upstream", "app", "v1.21.3", "gc-down")
	stop := startManager(t)
	defer stop()
	pv := newVariant(ns, "a", "gc-upstream", "gc-down", "1.21.x", v1.DeletionDelete)
	v := createVariant(ctx, t, ns, pv)
	got := v.waitVariant("v1.21.2 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	got = v.waitVariant("v1.21.3 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.3"))
	proposal, release := got.Status.Sync.Draft, latestDownstream(t, v.downstreamOf("gc-down")).Name

	collectRecord(ctx, t, ns, release)
	collectRecord(ctx, t, ns, proposal)
	// Porch sends no event for it; in the race, its re-list does. Here a
	// touch of the variant makes forkline look.
	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) { pv.Annotations = map[string]string{"test.forkline.dev/look": "1"} })
	// forkline finishes deleting its untouched proposal and proposes again
	// (in the workspace, so under the name, that is free again).
	collected := func() bool {
		events, _ := env.Kubectl(ctx, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=a,reason=DraftCollected", "-o", "custom-columns=MESSAGE:.message")
		return strings.Contains(events, proposal)
	}
	got = v.waitVariant("proposed again", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		again := &porchv1alpha1.PackageRevision{}
		return phaseIs(v1.PhaseProposed, "v1.21.3")(pv) && collected() &&
			env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: pv.Status.Sync.Draft}, again) == nil && again.DeletionTimestamp == nil
	})
	t.Logf("the collected proposal %s was deleted and proposed again as %s", proposal, got.Status.Sync.Draft)

	// Deleting the variant would propose the release for deletion: not a
	// terminating one, which that write would delete for real.
	if err := env.Client.Delete(ctx, pv); err != nil {
		t.Fatal(err)
	}
	waitDeleted(ctx, t, pv)
	time.Sleep(gcGrace)
	kept := &porchv1alpha1.PackageRevision{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: release}, kept); err != nil {
		t.Errorf("the published release %s is gone: %v", release, err)
	} else if kept.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecyclePublished {
		t.Errorf("the published release %s is %s", release, kept.Spec.Lifecycle)
	}
	refs := lsRemote(t, "gc-down")
	t.Logf("git ls-remote gc-down after the variant's deletion: %s", refs)
	if !strings.Contains(refs, "refs/tags/app/v1") {
		t.Errorf("the release tag app/v1 is gone from git: %s", refs)
	}
}

// TestPolicyDeletionAppliesEachVariantsPolicy deletes an UpstreamPolicy in
// the foreground: the garbage collector deletes its variants, each of which
// applies its own deletion policy; the published release stays in git.
func TestPolicyDeletionAppliesEachVariantsPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := "pdel-e2e"
	if err := smoke.PushUpstreamReleases(env, "pdel-upstream", "app", "1.21.2"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "pdel-upstream", "app", "v1.21.2", "pdel-a")
	stop := startManager(t)
	defer stop()
	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "pdel-upstream", Package: "app"}}
	p.Spec.Targets = []v1.Target{{Repositories: []v1.RepositoryTarget{{Repo: "pdel-a", ReleaseTrack: v1.ReleaseTrack{Versions: "1.21.x"}}}}}
	p.Spec.Template = &v1.PackageVariantTemplate{DeletionPolicy: v1.DeletionDelete}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	v := &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKey{Namespace: ns, Name: fanout.Name("app", "pdel-a", "app")}}
	got := v.waitVariant("v1.21.2 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("published", time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.21.2"
	})
	noOwnerReferences(v, "pdel-a")
	before := lsRemote(t, "pdel-a")
	if err := env.Client.Delete(ctx, p, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
		t.Fatal(err)
	}
	waitDeleted(ctx, t, p)
	if err := env.Client.Get(ctx, v.key, &v1.PackageVariant{}); client.IgnoreNotFound(err) != nil || err == nil {
		t.Errorf("the policy's variant outlived the policy's foreground deletion: %v", err)
	}
	time.Sleep(gcGrace)
	after := lsRemote(t, "pdel-a")
	t.Logf("git ls-remote pdel-a\n  before: %s\n  after:  %s", before, after)
	if !strings.Contains(after, "refs/tags/app/v1") {
		t.Errorf("the release tag app/v1 is gone: %s", after)
	}
	for name, lc := range lifecycles(v, "pdel-a") {
		if lc != porchv1alpha1.PackageRevisionLifecycleDeletionProposed {
			t.Errorf("%s is %s; the variant's deletionPolicy delete proposes published revisions for deletion", name, lc)
		}
	}

	// The policy applied again syncs v1.21.2 anew. Porch v1.3 clones next
	// to the revision proposed for deletion, which keeps its workspace
	// name, so the new draft gets the next free one instead of failing.
	// Porch v1.4+ clones only into a Repository holding no revision of the
	// package: the variant names the revisions in the way and waits for a
	// person to approve their deletion (or reject it).
	p = &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Spec: p.Spec}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	const wantWorkspace = "forkline-v1-21-2-2"
	if env.Bin.PorchVersion != devstack.PorchOlder {
		stuck := v.waitVariant("the revisions in the way named", 2*time.Minute, func(pv *v1.PackageVariant) bool {
			return pv.Status.Sync != nil && pv.Status.Sync.Phase == v1.PhaseFailed
		})
		t.Logf("re-applied on Porch %s: %s", env.Bin.PorchVersion, stuck.Status.Sync.Message)
		mustContain(t, "the re-applied variant", stuck.Status.Sync.Message, "Porch refuses to clone upstream v1.21.2", "(DeletionProposed)", "porchctl rpkg del")
		if r := readyOf(stuck); r == nil || r.Reason != "Failed" {
			t.Errorf("Ready = %+v, want False with reason Failed (kstatus Failed: a person must act)", r)
		}
		// Porch v1.4+ keeps the package on main after its revisions are
		// deleted: the variant goes on naming what is in the way, and
		// makes nothing.
		for name, lc := range lifecycles(v, "pdel-a") {
			if lc == porchv1alpha1.PackageRevisionLifecycleDeletionProposed {
				v.porchctl("rpkg", "del", name)
			}
		}
		stuck = v.waitVariant("the branch named", time.Minute, func(pv *v1.PackageVariant) bool {
			return pv.Status.Sync != nil && pv.Status.Sync.Phase == v1.PhaseFailed && !strings.Contains(pv.Status.Sync.Message, "DeletionProposed")
		})
		t.Logf("after the deletion, on Porch %s: %s", env.Bin.PorchVersion, stuck.Status.Sync.Message)
		mustContain(t, "the re-applied variant", stuck.Status.Sync.Message, "still holds package \"app\"", "remove the package's directory from branch main")
		if drafts := lifecycles(v, "pdel-a"); len(drafts) != 0 {
			t.Errorf("revisions made meanwhile: %v", drafts)
		}
		return
	}
	got = v.waitVariant("v1.21.2 proposed again", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	for _, pr := range v.downstreamOf("pdel-a") {
		if pr.Name == got.Status.Sync.Draft && pr.Spec.WorkspaceName != wantWorkspace {
			t.Errorf("the new draft's workspace is %q, want %s", pr.Spec.WorkspaceName, wantWorkspace)
		}
	}
}

// TestPolicyTargetProblemsKeepVariants: a typo in a branch's track, its
// Repository deleted and applied again by GitOps, and a suspended policy
// whose selector stops matching each keep the branch's variant with
// everything it published; after the fix the branch carries on.
func TestPolicyTargetProblemsKeepVariants(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ns := "keep-e2e"
	if err := smoke.PushUpstreamReleases(env, "keep-upstream", "app", "1.21.2"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "keep-upstream", "app", "v1.21.2", "keep-a")
	setRepo := func(labels map[string]string, versions string) {
		t.Helper()
		r := &configapi.Repository{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "keep-a"}, r); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(r.DeepCopy())
		r.Labels, r.Annotations = labels, map[string]string{v1.DefaultVersionsAnnotation: versions}
		if err := env.Client.Patch(ctx, r, patch); err != nil {
			t.Fatal(err)
		}
	}
	selected := map[string]string{"forkline.dev/fork": "app"}
	setRepo(selected, "1.21.x")
	stop := startManager(t)
	defer stop()

	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "keep-upstream", Package: "app"}}
	p.Spec.Targets = []v1.Target{{RepositorySelector: &v1.RepositorySelectorTarget{Selector: metav1.LabelSelector{MatchLabels: selected}}}}
	p.Spec.Template = &v1.PackageVariantTemplate{DeletionPolicy: v1.DeletionDelete}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	v := &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKey{Namespace: ns, Name: fanout.Name("app", "keep-a", "app")}}
	got := v.waitVariant("v1.21.2 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	uid := got.UID
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("published", time.Minute, func(pv *v1.PackageVariant) bool {
		return meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate)
	})
	refs := lsRemote(t, "keep-a")
	t.Logf("git ls-remote keep-a at the start: %s", refs)

	board := func(what string, cond func(rows []v1.TargetStatus) bool) {
		t.Helper()
		got := &v1.UpstreamPolicy{}
		if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
				return false, nil
			}
			return cond(got.Status.Targets), nil
		}); err != nil {
			t.Fatalf("the board never showed %s: %+v", what, got.Status.Targets)
		}
		t.Logf("board, %s: %+v", what, got.Status.Targets)
	}
	rowSays := func(words string) func([]v1.TargetStatus) bool {
		return func(rows []v1.TargetStatus) bool {
			return len(rows) == 1 && rows[0].Variant == v.key.Name && strings.Contains(rows[0].Message, words)
		}
	}
	intact := func(when string) {
		t.Helper()
		time.Sleep(gcGrace)
		pv := &v1.PackageVariant{}
		if err := env.Client.Get(ctx, v.key, pv); err != nil || pv.UID != uid || !pv.DeletionTimestamp.IsZero() {
			t.Fatalf("%s: the branch's variant was deleted or replaced (err %v)", when, err)
		}
		for _, pr := range v.downstreamOf("keep-a") {
			if pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDeletionProposed {
				t.Errorf("%s: %s was proposed for deletion", when, pr.Name)
			}
		}
		if now := lsRemote(t, "keep-a"); now != refs {
			t.Errorf("%s: git changed\n  before: %s\n  after:  %s", when, refs, now)
		}
	}

	// A typo in the branch's track.
	setRepo(selected, "1.21.x.y")
	board("the typo", rowSays("1.21.x.y"))
	// The kept variant counts: the board adds up.
	if got := (&v1.UpstreamPolicy{}); env.Client.Get(ctx, client.ObjectKeyFromObject(p), got) != nil || got.Status.Variants != "0/1" {
		t.Errorf("with the kept variant on the board, variants = %q, want 0/1", got.Status.Variants)
	}
	intact("typo")
	setRepo(selected, "1.21.x")
	board("the typo fixed", func(rows []v1.TargetStatus) bool { return len(rows) == 1 && rows[0].Message == "" && rows[0].Ready })

	// The Repository deleted and applied again, as a GitOps sync does.
	repo := &configapi.Repository{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "keep-a"}, repo); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, repo); err != nil {
		t.Fatal(err)
	}
	waitDeleted(ctx, t, repo)
	board("the Repository missing", rowSays("missing"))
	intact("Repository deleted")
	// Applied again as it was, labels and annotation included.
	reapplied := &configapi.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keep-a", Labels: repo.Labels, Annotations: repo.Annotations}, Spec: repo.Spec}
	if err := env.Client.Create(ctx, reapplied); err != nil {
		t.Fatal(err)
	}
	v.waitVariant("back to up to date on v1.21.2 after the re-apply", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.UID == uid && meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate) && pv.Status.Upstream.Current == "v1.21.2"
	})

	// A suspended policy whose selector stops matching deletes nothing.
	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.Suspend = true
	if err := env.Client.Patch(ctx, p, patch); err != nil {
		t.Fatal(err)
	}
	setRepo(map[string]string{"forkline.dev/fork": "elsewhere"}, "1.21.x")
	board("the suspended policy keeping the unmatched branch", rowSays("suspended"))
	intact("suspended and unmatched")
	setRepo(selected, "1.21.x")
	patch = client.MergeFrom(p.DeepCopy())
	p.Spec.Suspend = false
	if err := env.Client.Patch(ctx, p, patch); err != nil {
		t.Fatal(err)
	}

	// The branch carries on where it was: the next release is proposed.
	if err := smoke.PushUpstreamReleases(env, "keep-upstream", "app", "1.21.3"); err != nil {
		t.Fatal(err)
	}
	got = v.waitVariant("v1.21.3 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.3"))
	if got.UID != uid || got.Status.Sync.From != "v1.21.2" {
		t.Errorf("the branch did not carry on: uid %s (was %s), from %q", got.UID, uid, got.Status.Sync.From)
	}
	events, _ := env.Kubectl(ctx, "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+v.key.Name, "-o", "custom-columns=TYPE:.type,REASON:.reason")
	if strings.Contains(events, "Failed") {
		t.Errorf("the branch went through a Failed phase:\n%s", events)
	}
	t.Logf("git ls-remote keep-a at the end: %s", lsRemote(t, "keep-a"))
}

// TestOwnershipAndPeoplesDecisions: a second variant on a managed package
// stalls and touches nothing; a rejected proposal is not proposed again,
// a deleted draft not created again, until a person asks; a status wipe
// neither duplicates the draft nor calls it edited; a hand approval with a
// False conflicts gate is reported, not called up to date.
func TestOwnershipAndPeoplesDecisions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ns := "own-e2e"
	v := &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKey{Namespace: ns, Name: "a"}}
	conflicting := map[string]string{
		"Kptfile":         fmt.Sprintf(smoke.KptfileTemplate, "app"),
		"deployment.yaml": strings.Replace(releaseDeployment("1.21.3"), "replicas: 1", "replicas: 2", 1),
	}
	if err := smoke.PushUpstreamReleases(env, "own-upstream", "app", "1.21.2"); err != nil {
		t.Fatal(err)
	}
	if err := env.PushReleases("own-upstream", "app", devstack.Release{Version: "1.21.3", Files: conflicting}); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "own-upstream", "app", "v1.21.3", "own-down")
	stop := startManager(t)
	defer stop()
	drafts := func() []porchv1alpha1.PackageRevision {
		var out []porchv1alpha1.PackageRevision
		for _, pr := range v.downstreamOf("own-down") {
			if pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleDraft || pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleProposed {
				out = append(out, pr)
			}
		}
		return out
	}
	stays := func(what string, check func(pv *v1.PackageVariant) bool) {
		t.Helper()
		deadline := time.Now().Add(gcGrace)
		for time.Now().Before(deadline) {
			pv := &v1.PackageVariant{}
			if err := env.Client.Get(ctx, v.key, pv); err == nil && !check(pv) {
				t.Fatalf("%s did not hold: %+v", what, pv.Status.Sync)
			}
			time.Sleep(time.Second)
		}
	}

	refs := func(after string) { t.Logf("git ls-remote own-down after %s: %s", after, lsRemote(t, "own-down")) }
	refs("the start")
	a := newVariant(ns, "a", "own-upstream", "own-down", "1.21.x", v1.DeletionDelete)
	a.Spec.Pin = &v1.Pin{Revision: "v1.21.2", Reason: "settle on 1.21.2 first"}
	if err := env.Client.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	got := v.waitVariant("v1.21.2 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	proposal := got.Status.Sync.Draft

	// A second variant on the same package stalls, naming the owner.
	b := newVariant(ns, "b", "own-upstream", "own-down", "1.21.x", v1.DeletionDelete)
	vb := createVariant(ctx, t, ns, b)
	gotB := vb.waitVariant("stalled", time.Minute, func(pv *v1.PackageVariant) bool {
		c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "DownstreamManagedByAnother"
	})
	mustContain(t, "b's Stalled message", meta.FindStatusCondition(gotB.Status.Conditions, v1.ConditionStalled).Message, `PackageVariant "a"`)
	if d := drafts(); len(d) != 1 || d[0].Name != proposal || d[0].Annotations[v1.AnnotationOwner] != "a" {
		t.Errorf("the second variant touched the package: drafts %v", names(d))
	}
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	waitDeleted(ctx, t, b)
	if d := drafts(); len(d) != 1 || d[0].Name != proposal {
		t.Errorf("deleting the stalled variant touched a's draft: %v", names(d))
	}
	refs("a second variant stalled and was deleted")

	// A person rejects the proposal: it is not proposed again until asked.
	v.porchctl("rpkg", "reject", proposal)
	got = v.waitVariant("declined", time.Minute, phaseIs(v1.PhaseDeclined, "v1.21.2"))
	mustContain(t, "declined message", got.Status.Sync.Message, "rejected by a person", v1.AnnotationRetry)
	stays("the rejection", func(pv *v1.PackageVariant) bool { return pv.Status.Sync.Phase == v1.PhaseDeclined })
	refs("the rejection")
	annotate := func(value string) {
		patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) {
			if pv.Annotations == nil {
				pv.Annotations = map[string]string{}
			}
			pv.Annotations[v1.AnnotationRetry] = value
		})
	}
	annotate("1")
	got = v.waitVariant("proposed again on request", time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	if got.Status.Sync.Draft != proposal {
		t.Errorf("the retry proposed %s, not the rejected %s", got.Status.Sync.Draft, proposal)
	}

	// A person deletes the draft: it is not created again until asked.
	v.porchctl("rpkg", "reject", proposal)
	v.waitVariant("declined again", time.Minute, phaseIs(v1.PhaseDeclined, "v1.21.2"))
	v.porchctl("rpkg", "del", proposal)
	v.waitVariant("deletion seen", time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Sync != nil && strings.Contains(pv.Status.Sync.Message, "deleted by a person")
	})
	stays("the deletion", func(pv *v1.PackageVariant) bool { return len(drafts()) == 0 })
	refs("the person's deletion of the draft")
	annotate("2")
	got = v.waitVariant("a new draft on request", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	proposal = got.Status.Sync.Draft

	// A status wipe (a restore from backup) loses nothing.
	wiped := got.DeepCopy()
	wiped.Status = v1.PackageVariantStatus{}
	if err := env.Client.Status().Update(ctx, wiped); err != nil {
		t.Fatal(err)
	}
	got = v.waitVariant("proposal found again after the wipe", time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	if got.Status.Sync.Draft != proposal || got.Status.Sync.EditedByPerson || len(drafts()) != 1 {
		t.Errorf("after the wipe: draft %s (want %s), edited %v, drafts %v", got.Status.Sync.Draft, proposal, got.Status.Sync.EditedByPerson, names(drafts()))
	}
	refs("the status wipe")
	v.porchctl("rpkg", "approve", proposal)

	// The fork sets replicas 3; upstream 1.21.3 sets 2: a conflict, which a
	// person approves by hand with the gate still False.
	v.publishEdit("own-down", "local-edit", "replicas: 1", "replicas: 3")
	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) { pv.Spec.Pin = nil })
	got = v.waitVariant("conflicted on v1.21.3", 2*time.Minute, phaseIs(v1.PhaseConflicted, "v1.21.3"))
	conflicted := &porchv1alpha1.PackageRevision{}
	// As a person would, each move is tried again while Porch is briefly
	// busy (503) or the draft moved under it.
	asPerson := func(move func() error) {
		t.Helper()
		transient := func(err error) bool {
			return apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsConflict(err)
		}
		if err := retry.OnError(wait.Backoff{Steps: 6, Duration: 500 * time.Millisecond, Factor: 2}, transient, func() error {
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: got.Status.Sync.Draft}, conflicted); err != nil {
				return err
			}
			return move()
		}); err != nil {
			t.Fatal(err)
		}
	}
	asPerson(func() error {
		conflicted.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
		return env.Client.Update(ctx, conflicted)
	})
	// porchctl v1.4+ refuses to approve with a gate False; the API does
	// not, and a person with approval rights can use it.
	asPerson(func() error {
		conflicted.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecyclePublished
		return env.Client.SubResource("approval").Update(ctx, conflicted)
	})
	got = v.waitVariant("the hand approval reported", time.Minute, func(pv *v1.PackageVariant) bool {
		c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionConflicted)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "PublishedWithConflicts"
	})
	if meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionUpToDate) || meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionReady) {
		t.Errorf("a release published with unresolved conflicts is called up to date: %+v", got.Status.Conditions)
	}
	events, _ := env.Kubectl(ctx, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=a", "-o", "custom-columns=TYPE:.type,REASON:.reason")
	mustContain(t, "a's events", events, "ProposalRejected", "DraftDeleted", "PublishedWithConflicts")
	refs("the hand approval with a False gate")
}

func names(prs []porchv1alpha1.PackageRevision) []string {
	var out []string
	for _, pr := range prs {
		out = append(out, pr.Name)
	}
	return out
}

// TestReleaseNotListedIsWaitedFor: Porch stops listing the release a
// variant published (its tag is gone from git for a while, as when Porch
// re-lists a re-registered Repository). forkline does not take the
// package for empty and start it over from a fresh clone of the upstream:
// it waits, says why, and carries on once Porch lists the release again.
func TestReleaseNotListedIsWaitedFor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := "miss-e2e"
	if err := smoke.PushUpstreamReleases(env, "miss-upstream", "app", "1.21.2"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "miss-upstream", "app", "v1.21.2", "miss-down")
	stop := startManager(t)
	defer stop()
	pv := newVariant(ns, "a", "miss-upstream", "miss-down", "1.21.x", v1.DeletionOrphan)
	v := createVariant(ctx, t, ns, pv)
	got := v.waitVariant("v1.21.2 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.21.2"))
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	upToDate := func(pv *v1.PackageVariant) bool {
		return meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate) && pv.Status.Upstream.Current == "v1.21.2" && pv.Status.ReleaseMissingSince == nil
	}
	v.waitVariant("published", time.Minute, upToDate)
	before := lsRemote(t, "miss-down")

	// The tag goes away (a clone keeps it to push back).
	clone := t.TempDir()
	url := env.Git.RepoURL("miss-down")
	if _, err := devstack.GitOutput("", "clone", "--quiet", url, clone); err != nil {
		t.Fatal(err)
	}
	if _, err := devstack.GitOutput(clone, "push", "--quiet", url, ":refs/tags/app/v1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("while Porch does not list v1: %s", settle(ctx, t, pv, want(kstatus.InProgressStatus, "ReleaseNotListed", "does not list v1", "instead of starting the package over")))
	time.Sleep(gcGrace)
	during := lsRemote(t, "miss-down")
	for _, pr := range v.downstreamOf("miss-down") {
		if pr.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecyclePublished {
			t.Errorf("forkline started the package over while v1 was not listed: %s is %s", pr.Name, pr.Spec.Lifecycle)
		}
	}

	// The tag is back: the branch is where it was, with nothing new.
	if _, err := devstack.GitOutput(clone, "push", "--quiet", url, "refs/tags/app/v1:refs/tags/app/v1"); err != nil {
		t.Fatal(err)
	}
	v.waitVariant("up to date on v1.21.2 again", 2*time.Minute, upToDate)
	after := lsRemote(t, "miss-down")
	t.Logf("git ls-remote miss-down\n  before: %s\n  while the tag was gone: %s\n  after:  %s", before, during, after)
	if after != before {
		t.Errorf("git changed: before %s, after %s", before, after)
	}
}
