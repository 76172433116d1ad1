package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
)

var (
	pluginOnce sync.Once
	pluginPath string
	pluginErr  error
)

// plugin is kubectl-forkline built from this tree, once per test binary.
func plugin(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		root, err := devstack.RepoRoot(".")
		if err != nil {
			pluginErr = err
			return
		}
		pluginPath = filepath.Join(env.Dir, "kubectl-forkline")
		out, err := exec.Command("go", "build", "-C", root, "-o", pluginPath, "./cmd/kubectl-forkline").CombinedOutput()
		if err != nil {
			pluginErr = err
			t.Logf("%s", out)
		}
	})
	if pluginErr != nil {
		t.Fatalf("building kubectl-forkline: %v", pluginErr)
	}
	return pluginPath
}

// forkline runs kubectl forkline as the person.
func (p *person) forkline(args ...string) (string, error) {
	p.t.Helper()
	cmd := exec.CommandContext(p.ctx, plugin(p.t), append(args, "-n", p.ns, "--kubeconfig", p.kubeconfig)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustForkline runs it and fails the test on an error; the aggregated
// API's momentary 503 is retried, as a person would.
func (p *person) mustForkline(args ...string) string {
	p.t.Helper()
	var out string
	var err error
	for range 4 {
		if out, err = p.forkline(args...); err == nil || !strings.Contains(out, "the server is currently unable") {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		p.t.Fatalf("kubectl forkline %v as %s: %v\n%s", args, filepath.Base(p.kubeconfig), err, out)
	}
	p.t.Logf("$ kubectl forkline %s\n%s", strings.Join(args, " "), out)
	return out
}

// reviewerRules are a person who reviews and approves: forkline's objects
// to read and annotate, drafts to read, push and approve, Events to read.
var reviewerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"forkline.dev"}, Resources: []string{"packagevariants", "upstreampolicies"}, Verbs: []string{"get", "list", "watch", "patch", "update"}},
	{APIGroups: []string{"porch.kpt.dev"}, Resources: []string{"packagerevisions"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
	{APIGroups: []string{"porch.kpt.dev"}, Resources: []string{"packagerevisions/approval"}, Verbs: []string{"update", "patch"}},
	{APIGroups: []string{"porch.kpt.dev"}, Resources: []string{"packagerevisionresources"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
}

const cliDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels:
    tier: %TIER%
spec:
  replicas: %REPLICAS%
  template:
    spec:
      containers:
      - name: app
        image: registry.example.com/app:%IMAGE%
`

func cliRelease(version, tier, replicas, image, setting string) devstack.Release {
	files := map[string]string{
		"Kptfile":         strings.ReplaceAll(smoke.KptfileTemplate, "%s", "app"),
		"deployment.yaml": strings.NewReplacer("%TIER%", tier, "%REPLICAS%", replicas, "%IMAGE%", image).Replace(cliDeployment),
		"settings.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: " + setting + "\n",
		"region.yaml":     webRegionConfig,
	}
	return devstack.Release{Version: version, Files: files}
}

// TestKubectlForkline is the reviewer's day with the plugin, run as a
// person with a reviewer's rights only: the first proposal's diff and
// approval (refused to an editor without approval rights, Porch's
// Forbidden shown), an upgrade conflicting in four places resolved with
// each mode of resolve, a diff telling upstream's changes from the steps'
// and the person's, the approval refused while conflicted and made once
// resolved, and the day-2 verbs, each checked in what the cluster holds.
func TestKubectlForkline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const ns, up, down = "cli-e2e", "cli-upstream", "cli-downstream"
	if err := env.PushReleases(up, "app", cliRelease("1.0.0", "web", "1", "1.0.0", "a")); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, up, "app", "v1.0.0", down)
	stop := startManager(t)
	defer stop()
	reviewer := newPerson(ctx, t, ns, "reviewer", reviewerRules)
	// An editor may read forkline's objects and push drafts, not approve.
	editor := newPerson(ctx, t, ns, "editor", append(slices.Clone(editorRules),
		rbacv1.PolicyRule{APIGroups: []string{"forkline.dev"}, Resources: []string{"packagevariants"}, Verbs: []string{"get", "list"}}))

	region := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "eu-west"}, Data: map[string]string{"region": "eu-west-1"}}
	if err := env.Client.Create(ctx, region); err != nil {
		t.Fatal(err)
	}
	pv := newVariant(ns, "app", up, down, "1.x", v1.DeletionOrphan)
	pv.Spec.Injectors = []v1.Injector{{Name: "eu-west"}}
	v := createVariant(ctx, t, ns, pv)
	got := v.waitVariant("v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	if ch := got.Status.Sync.Changes; ch == nil || ch.Resources.Added < 2 || ch.Upstream < 2 {
		t.Errorf("a first sync's status.sync.changes = %+v, want the package's resources added by upstream", ch)
	}

	mustContain(t, "get", reviewer.mustForkline("get"), "app", "Proposed", "approval by a person", "v1.0.0")
	mustContain(t, "the first diff", reviewer.mustForkline("diff", "app"), "first sync", "added", "apps/Deployment/default/app", "+        image: registry.example.com/app:1.0.0")
	out, err := editor.forkline("approve", "app")
	if err == nil {
		t.Fatalf("an editor without approval rights approved:\n%s", out)
	}
	t.Logf("$ kubectl forkline approve app  (as the editor)\n%s", out)
	mustContain(t, "the editor's refused approval", out, "porch refused your approval", "Forbidden", "forbidden")
	mustContain(t, "approve", reviewer.mustForkline("approve", "app"), "approved", "v1.0.0")
	v.waitVariant("on v1.0.0", time.Minute, conditionIs(v1.ConditionUpToDate, "UpToDate"))

	// The branch's own edit, published: the four places the upgrade will
	// conflict in.
	published := latestDownstream(t, v.downstreamOf(down))
	v.porchctl("rpkg", "copy", published.Name, "--workspace", "branch-edit")
	var local string
	for _, pr := range v.downstreamOf(down) {
		if pr.Spec.WorkspaceName == "branch-edit" {
			local = pr.Name
		}
	}
	editFiles(t, ctx, "cli-e2e", local, map[string][2]string{
		"deployment.yaml": {"tier: web", "tier: backend"},
		"settings.yaml":   {"mode: a", "mode: branch"},
	})
	editFiles(t, ctx, "cli-e2e", local, map[string][2]string{"deployment.yaml": {"replicas: 1", "replicas: 3"}})
	editFiles(t, ctx, "cli-e2e", local, map[string][2]string{"deployment.yaml": {"app:1.0.0", "app:branch"}})
	v.porchctl("rpkg", "propose", local)
	v.porchctl("rpkg", "approve", local)

	// The next release changes the same four, while the injected
	// ConfigMap changes: suspended, so both land in one draft.
	mustContain(t, "suspend", reviewer.mustForkline("suspend", "app"), "suspended")
	region.Data["region"] = "eu-west-2"
	if err := env.Client.Update(ctx, region); err != nil {
		t.Fatal(err)
	}
	if err := env.PushReleases(up, "app", cliRelease("1.1.0", "frontend", "2", "1.1.0", "u")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.WaitPackageRevision(ctx, ns, up, "app", time.Minute, devstack.Published("v1.1.0")); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "resume", reviewer.mustForkline("resume", "app"), "resumed")
	got = v.waitVariant("conflicted on v1.1.0", 2*time.Minute, phaseIs(v1.PhaseConflicted, "v1.1.0"))
	draft := got.Status.Sync.Draft

	conflicts := reviewer.mustForkline("conflicts", "app")
	mustContain(t, "conflicts", conflicts, "deployment.yaml:spec.replicas", "deployment.yaml:metadata.labels.tier",
		"deployment.yaml:spec.template.spec.containers[name=app].image", "settings.yaml:data.mode", "false")
	out, err = reviewer.forkline("approve", "app")
	if err == nil {
		t.Fatalf("a conflicted draft was approved:\n%s", out)
	}
	t.Logf("$ kubectl forkline approve app  (conflicted)\n%s", out)
	mustContain(t, "the refused approval of a conflicted draft", out, "not approving", "not proposed", "Conflicted")

	// A person's own edit in the draft, beside the resolution.
	editFiles(t, ctx, "cli-e2e", draft, map[string][2]string{"settings.yaml": {"mode: branch", "mode: branch\n  note: by hand"}})
	mustContain(t, "resolve --take upstream", reviewer.mustForkline("resolve", "app", "--take", "upstream", "spec.replicas"), "resolved deployment.yaml:spec.replicas", "3 left")
	mustContain(t, "resolve --take base", reviewer.mustForkline("resolve", "app", "--take", "base", "deployment.yaml:spec.template.spec.containers[name=app].image"), "2 left")
	mustContain(t, "resolve --take downstream", reviewer.mustForkline("resolve", "app", "--take", "downstream", "settings.yaml"), "1 left")
	mustContain(t, "resolve --set", reviewer.mustForkline("resolve", "app", "--set", "metadata.labels.tier=mobile"), "no conflict left")

	got = v.waitVariant("v1.1.0 proposed once resolved", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.1.0"))
	resolved := v.draftResources(got.Status.Sync.Draft)
	mustContain(t, "the resolved deployment.yaml", resolved["deployment.yaml"], "replicas: 2", "image: registry.example.com/app:1.0.0", "tier: mobile")
	mustContain(t, "the resolved settings.yaml", resolved["settings.yaml"], "mode: branch", "note: by hand")
	ch := got.Status.Sync.Changes
	if ch == nil || ch.Upstream == 0 || ch.Steps == 0 || ch.Person == 0 {
		t.Errorf("status.sync.changes = %+v, want changes from upstream, steps and a person", ch)
	} else {
		mustContain(t, "the Proposed message", got.Status.Sync.Message, ch.Summary, "pipeline unchanged")
	}

	diff := reviewer.mustForkline("diff", "app")
	mustContain(t, "the upgrade's diff", diff,
		"spec.replicas [upstream]",
		"data.region [steps]",
		"data.note [person]",
		"changed by a person in the draft:",
		"+  replicas: 2")
	mustContain(t, "diff --upstream", reviewer.mustForkline("diff", "app", "--upstream"), "upstream v1.0.0 -> v1.1.0", "-  replicas: 1", "+  replicas: 2")

	// The day-2 verbs, each seen in the cluster.
	reviewer.mustForkline("hold", "app", "--reason", "waiting for the CAB")
	if held := getVariant(t, ctx, v.key); held.Annotations[v1.AnnotationHold] != "waiting for the CAB" {
		t.Errorf("hold: annotations %v", held.Annotations)
	}
	reviewer.mustForkline("unhold", "app")
	reviewer.mustForkline("retry", "app")
	if _, ok := getVariant(t, ctx, v.key).Annotations[v1.AnnotationHold]; ok || getVariant(t, ctx, v.key).Annotations[v1.AnnotationRetry] == "" {
		t.Errorf("unhold and retry: annotations %v", getVariant(t, ctx, v.key).Annotations)
	}
	mustContain(t, "reconcile", reviewer.mustForkline("reconcile", "app"), "reconciled: app Proposed")
	reviewer.mustForkline("skip", "app", "v1.9.9")
	reviewer.mustForkline("pin", "app", "--to", "v1.1.0", "--reason", "INC-42", "--until", "2099-01-01")
	if pinned := getVariant(t, ctx, v.key); pinned.Spec.Pin == nil || pinned.Spec.Pin.Reason != "INC-42" || pinned.Spec.Pin.Until == nil || !strings.Contains(strings.Join(pinned.Spec.Upstream.Skip, ","), "v1.9.9") {
		t.Errorf("pin and skip: spec %+v", pinned.Spec)
	}
	reviewer.mustForkline("pin", "app", "--to", "")
	mustContain(t, "events", reviewer.mustForkline("events", "app"), "Conflicted", "ConflictsResolved", "Proposed")

	mustContain(t, "approve", reviewer.mustForkline("approve", "app"), "approved")
	v.waitVariant("on v1.1.0", time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.1.0" && meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate)
	})
	final := latestDownstream(t, v.downstreamOf(down))
	if final.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecyclePublished {
		t.Errorf("the latest downstream revision is %s", final.Spec.Lifecycle)
	}
	mustContain(t, "the published deployment.yaml", v.draftResources(final.Name)["deployment.yaml"], "replicas: 2", "tier: mobile")
}

func getVariant(t *testing.T, ctx context.Context, key client.ObjectKey) *v1.PackageVariant {
	t.Helper()
	pv := &v1.PackageVariant{}
	if err := env.Client.Get(ctx, key, pv); err != nil {
		t.Fatal(err)
	}
	return pv
}

// editFiles replaces text in a draft's files, as a person's push (of a
// big package, Porch takes its time over it).
func editFiles(t *testing.T, ctx context.Context, ns, name string, edits map[string][2]string) {
	t.Helper()
	tried, pending := false, false
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		prr := &porchv1alpha1.PackageRevisionResources{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, prr); err != nil {
			return false, nil
		}
		files := map[string]string{}
		landed := tried
		for file, e := range edits {
			landed = landed && strings.Contains(prr.Spec.Resources[file], e[1])
			if !strings.Contains(prr.Spec.Resources[file], e[0]) && !landed {
				t.Fatalf("%s's %s lacks %q:\n%s", name, file, e[0], prr.Spec.Resources[file])
			}
			files[file] = strings.Replace(prr.Spec.Resources[file], e[0], e[1], 1)
		}
		if landed {
			// The last try landed though its answer did not come back
			// (Porch takes long over a big package).
			return true, nil
		}
		if pending {
			return false, nil // Porch is still at it: another write would race it
		}
		// Only the changed files, at the commit read: a big package's full
		// update is over the API server's request limit.
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": prr.ResourceVersion},
			"spec":     map[string]any{"resources": files},
		})
		if err != nil {
			return false, err
		}
		tried = true
		if err := env.Client.Patch(ctx, prr, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Logf("editing %s: %v", name, err)
			pending = apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("editing %s: %v", name, err)
	}
}
