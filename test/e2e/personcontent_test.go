package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
)

// escalation is what a careless editor pushes with a conflict resolution:
// a binding of themselves to cluster-admin.
const escalation = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: escalate
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: editor
  namespace: person-e2e
`

// TestPersonsContentWaitsForAPerson: under Automatic approval, a draft a
// person changed (here a conflict resolution that also adds a
// ClusterRoleBinding to cluster-admin) is proposed but never approved by
// forkline: it waits, gate ChangedByPerson, naming the files the person
// changed, until a person approves it.
func TestPersonsContentWaitsForAPerson(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const ns = "person-e2e"
	if err := smoke.PushUpstreamReleases(env, "pc-upstream", "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "pc-upstream", "app", "v1.0.0", "pc-down")
	stop := startManager(t)
	defer stop()

	pv := newVariant(ns, "pc", "pc-upstream", "pc-down", "1.0.x", "")
	pv.Spec.Approval = &v1.Approval{Mode: v1.AutomaticApproval}
	v := createVariant(ctx, t, ns, pv)
	v.waitVariant("v1.0.0 published by forkline", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.0.0"
	})

	// A person's edit in the fork, then upstream's next release changes
	// the same field: a conflict.
	v.publishEdit("pc-down", "local-edit", "replicas: 1", "replicas: 3")
	next := devstack.Release{Version: "1.0.1", Files: map[string]string{
		"Kptfile":         fmt.Sprintf(smoke.KptfileTemplate, "app"),
		"deployment.yaml": strings.Replace(releaseDeployment("1.0.1"), "replicas: 1", "replicas: 2", 1),
	}}
	if err := env.PushReleases("pc-upstream", "app", next); err != nil {
		t.Fatal(err)
	}
	got := v.waitVariant("v1.0.1 conflicted", 2*time.Minute, phaseIs(v1.PhaseConflicted, "v1.0.1"))
	draft := got.Status.Sync.Draft

	// The editor, who may push to drafts but not propose or approve them,
	// resolves it and, in the same push, adds escalate.yaml.
	editor := newPerson(ctx, t, ns, "editor", editorRules)
	dir := filepath.Join(t.TempDir(), "draft")
	editor.must("rpkg", "pull", draft, dir)
	for file, change := range map[string][2]string{
		"deployment.yaml":         {"replicas: 3", "replicas: 2"},
		"forkline-conflicts.yaml": {"resolved: false", "resolved: true"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(strings.ReplaceAll(string(b), change[0], change[1])), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "escalate.yaml"), []byte(escalation), 0o644); err != nil {
		t.Fatal(err)
	}
	editor.must("rpkg", "push", draft, dir)

	waits := func(pv *v1.PackageVariant) bool {
		return phaseIs(v1.PhaseProposed, "v1.0.1")(pv) && awaiting("ChangedByPerson")(pv)
	}
	got = v.waitVariant("the resolution proposed, waiting for a person", 2*time.Minute, waits)
	msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionAwaitingApproval).Message
	t.Logf("AwaitingApproval: %s", msg)
	mustContain(t, "the wait", msg, "changed by a person: ", "escalate.yaml", "forkline-conflicts.yaml", "a person with approval rights approves it")

	// It stays a proposal: forkline never publishes it.
	time.Sleep(10 * time.Second)
	for _, pr := range v.downstreamOf("pc-down") {
		if pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished && upstreamOf(&pr) == "v1.0.1" {
			t.Fatalf("forkline published %s, which carries a person's ClusterRoleBinding", pr.Name)
		}
	}
	if now := v.waitVariant("still waiting", time.Second, waits); now.Status.Sync.Draft != draft {
		t.Errorf("the proposal moved to %s", now.Status.Sync.Draft)
	}
	events, _ := env.Kubectl(ctx, "get", "events", "-n", ns, "--field-selector", "involvedObject.kind=PackageVariant", "-o", "custom-columns=REASON:.reason,MESSAGE:.message")
	mustContain(t, "events", events, "ApprovalWaiting")
	for _, line := range strings.Split(events, "\n") {
		if strings.HasPrefix(line, "ApprovalWaiting") {
			t.Logf("event: %s", line)
		}
	}

	// The editor cannot approve it themselves: Porch refuses them.
	if out, err := editor.porchctl("rpkg", "approve", draft); err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
		t.Fatalf("the editor approved, or was refused for another reason: %v\n%s", err, out)
	} else {
		t.Logf("the editor's approve: %s", firstLineOf(out))
	}

	// A person with approval rights approves it: published, by a person.
	v.porchctl("rpkg", "approve", draft)
	got = v.waitVariant("approved by the person", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.0.1" && len(pv.Status.History) > 0
	})
	if rec := got.Status.History[0]; rec.To != "v1.0.1" || rec.ApprovedBy != "person" {
		t.Errorf("history records %s approved by %s, want v1.0.1 approved by person", rec.To, rec.ApprovedBy)
	}

	// A garbage resolution: the editor deletes forkline-conflicts.yaml
	// and leaves replicas: banana. It waits for a person too.
	v.publishEdit("pc-down", "local-edit-2", "replicas: 2", "replicas: 3")
	third := devstack.Release{Version: "1.0.2", Files: map[string]string{
		"Kptfile":         fmt.Sprintf(smoke.KptfileTemplate, "app"),
		"deployment.yaml": strings.Replace(releaseDeployment("1.0.2"), "replicas: 1", "replicas: 4", 1),
	}}
	if err := env.PushReleases("pc-upstream", "app", third); err != nil {
		t.Fatal(err)
	}
	got = v.waitVariant("v1.0.2 conflicted", 2*time.Minute, phaseIs(v1.PhaseConflicted, "v1.0.2"))
	draft = got.Status.Sync.Draft
	garbage := filepath.Join(t.TempDir(), "garbage")
	editor.must("rpkg", "pull", draft, garbage)
	if err := os.Remove(filepath.Join(garbage, "forkline-conflicts.yaml")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(garbage, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(garbage, "deployment.yaml"), []byte(strings.Replace(string(b), "replicas: 3", "replicas: banana", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	editor.must("rpkg", "push", draft, garbage)
	got = v.waitVariant("the garbage resolution proposed, waiting for a person", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return phaseIs(v1.PhaseProposed, "v1.0.2")(pv) && awaiting("ChangedByPerson")(pv)
	})
	msg = meta.FindStatusCondition(got.Status.Conditions, v1.ConditionAwaitingApproval).Message
	t.Logf("AwaitingApproval after the garbage resolution: %s", msg)
	mustContain(t, "the garbage resolution's wait", msg, "changed by a person: ", "deployment.yaml", "forkline-conflicts.yaml (removed)")
	time.Sleep(10 * time.Second)
	for _, pr := range v.downstreamOf("pc-down") {
		if pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished && upstreamOf(&pr) == "v1.0.2" {
			t.Fatalf("forkline published %s, replicas: banana and all", pr.Name)
		}
	}
}

// TestChangesThatNeedAPerson: under Automatic approval, an upstream
// release that adds a pipeline function, an RBAC object or a
// cluster-scoped object waits for a person with a message naming it; a
// plain change still publishes by itself; requirePersonFor: [] publishes
// them all.
func TestChangesThatNeedAPerson(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns = "needs-e2e"
	if err := smoke.PushUpstreamReleases(env, "np-upstream", "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "np-upstream", "app", "v1.0.0", "np-down")
	stop := startManager(t)
	defer stop()

	pv := newVariant(ns, "np", "np-upstream", "np-down", "1.0.x", "")
	pv.Spec.Approval = &v1.Approval{Mode: v1.AutomaticApproval}
	v := createVariant(ctx, t, ns, pv)
	on := func(release string) func(*v1.PackageVariant) bool {
		return func(pv *v1.PackageVariant) bool {
			return pv.Status.Upstream != nil && pv.Status.Upstream.Current == release
		}
	}
	v.waitVariant("v1.0.0 published by forkline", 2*time.Minute, on("v1.0.0"))

	kptfile := fmt.Sprintf(smoke.KptfileTemplate, "app")
	// bump-version with no config sets the version the upstreamLock
	// names: what upstream's own labels say, so no later release conflicts.
	withMutator := kptfile + fmt.Sprintf("pipeline:\n  mutators:\n  - image: %s\n", devstack.FunctionImage("bump-version"))
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: app\n  namespace: default\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get]\n"
	namespace := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"
	release := func(version string, files ...string) devstack.Release {
		r := devstack.Release{Version: version, Files: map[string]string{"Kptfile": kptfile, "deployment.yaml": releaseDeployment(version)}}
		for i := 0; i+1 < len(files); i += 2 {
			r.Files[files[i]] = files[i+1]
		}
		return r
	}
	waitsFor := func(release, says string) {
		t.Helper()
		got := v.waitVariant(release+" waits for a person", 2*time.Minute, func(pv *v1.PackageVariant) bool {
			return phaseIs(v1.PhaseProposed, release)(pv) && awaiting("RequiresPerson")(pv)
		})
		msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionAwaitingApproval).Message
		t.Logf("%s: AwaitingApproval RequiresPerson: %s", release, msg)
		mustContain(t, release+"'s wait", msg, "needs a person: "+says, "a person with approval rights approves it")
		time.Sleep(5 * time.Second)
		if now := v.waitVariant("still waiting", time.Second, func(*v1.PackageVariant) bool { return true }); now.Status.Upstream.Current == release {
			t.Fatalf("forkline published %s by itself", release)
		}
		v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
		v.waitVariant(release+" approved by a person", 2*time.Minute, on(release))
	}

	for _, step := range []struct {
		release devstack.Release
		says    string // empty: forkline publishes it by itself
	}{
		{release("1.0.1", "Kptfile", withMutator), "pipeline: mutator bump-version added (" + devstack.FunctionImage("bump-version") + ")"},
		{release("1.0.2", "Kptfile", withMutator, "role.yaml", role), "rbac: Role app added"},
		{release("1.0.3", "Kptfile", withMutator, "role.yaml", role), ""},
		{release("1.0.4", "Kptfile", withMutator, "role.yaml", role, "namespace.yaml", namespace), "cluster-scoped: Namespace team-a added"},
	} {
		if err := env.PushReleases("np-upstream", "app", step.release); err != nil {
			t.Fatal(err)
		}
		r := "v" + step.release.Version
		if step.says == "" {
			v.waitVariant(r+", a plain change, published by forkline", 2*time.Minute, on(r))
			continue
		}
		waitsFor(r, step.says)
	}

	// requirePersonFor: [] turns it off: the next such release goes alone.
	current := &v1.PackageVariant{}
	if err := env.Client.Get(ctx, v.key, current); err != nil {
		t.Fatal(err)
	}
	current.Spec.Approval.RequirePersonFor = &[]v1.ChangeClass{}
	if err := env.Client.Update(ctx, current); err != nil {
		t.Fatal(err)
	}
	other := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: app-reader\nrules: []\n"
	if err := env.PushReleases("np-upstream", "app", release("1.0.5", "Kptfile", withMutator, "role.yaml", role, "namespace.yaml", namespace, "clusterrole.yaml", other)); err != nil {
		t.Fatal(err)
	}
	got := v.waitVariant("v1.0.5 published by forkline with the check off", 2*time.Minute, on("v1.0.5"))
	if rec := got.Status.History[0]; rec.ApprovedBy != "forkline" {
		t.Errorf("v1.0.5 approved by %s, want forkline", rec.ApprovedBy)
	}
}
