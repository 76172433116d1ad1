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

	// The editor resolves it and, in the same push, adds escalate.yaml.
	dir := filepath.Join(t.TempDir(), "draft")
	v.porchctl("rpkg", "pull", draft, dir)
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
	v.porchctl("rpkg", "push", draft, dir)

	waits := func(pv *v1.PackageVariant) bool {
		c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionAwaitingApproval)
		return phaseIs(v1.PhaseProposed, "v1.0.1")(pv) && c != nil && c.Reason == "ChangedByPerson"
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

	// A person with approval rights approves it: published, by a person.
	v.porchctl("rpkg", "approve", draft)
	got = v.waitVariant("approved by the person", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.0.1" && len(pv.Status.History) > 0
	})
	if rec := got.Status.History[0]; rec.To != "v1.0.1" || rec.ApprovedBy != "person" {
		t.Errorf("history records %s approved by %s, want v1.0.1 approved by person", rec.To, rec.ApprovedBy)
	}
}
