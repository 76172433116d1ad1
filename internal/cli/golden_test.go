package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/changes"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli -update writes it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s (-want +got):\n%s", path, d)
	}
}

func cond(t, status, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: t, Status: metav1.ConditionStatus(status), Reason: reason, Message: msg}
}

// fleet is a policy and three variants it keeps, in each state a
// reviewer meets: a proposal waiting for them, a conflict, a spec error.
func fleet() []client.Object {
	policy := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "platform", Name: "app", UID: "p-1", CreationTimestamp: metav1.NewTime(now.Add(-72 * time.Hour))}}
	policy.Spec.Upstream.Repo, policy.Spec.Upstream.Package = "upstream", "app"
	policy.Status.Variants = "1/3"
	policy.Status.Conditions = []metav1.Condition{cond(v1.ConditionReady, "True", "Waiting", "1/3 variants up to date, 1 proposed, 1 conflicted")}
	variant := func(name, phase, cur, target, draft string, age time.Duration, conds ...metav1.Condition) *v1.PackageVariant {
		pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: "platform", Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age)),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: "UpstreamPolicy", Name: "app", UID: "p-1", Controller: ptr.To(true)}}}}
		pv.Status.Upstream = &v1.UpstreamStatus{Current: cur, Target: target}
		pv.Status.Sync = &v1.SyncStatus{Phase: v1.SyncPhase(phase), To: target, From: cur, Draft: draft}
		pv.Status.Conditions = conds
		return pv
	}
	proposed := variant("app-release-4-7", "Proposed", "v1.21.2", "v1.21.3", "release-4-7-89655", 48*time.Hour,
		cond(v1.ConditionReady, "True", "Proposed", "draft release-4-7-89655 (upstream v1.21.3) is proposed"),
		cond(v1.ConditionAwaitingApproval, "True", "Proposed", "approve it"))
	proposed.Status.Sync.Changes = &v1.ChangeSummary{Summary: "3 resources changed (upstream 2, steps 1); pipeline unchanged"}
	conflicted := variant("app-release-4-8", "Conflicted", "v1.21.2", "v1.21.3", "release-4-8-1f2e3", 48*time.Hour,
		cond(v1.ConditionReady, "True", "Conflicted", "1 conflict"),
		cond(v1.ConditionConflicted, "True", "Conflicts", "1 conflict: deployment.yaml spec.replicas (base 1, upstream 2, downstream 3)"))
	stalled := variant("app-release-4-9", "Failed", "v1.21.3", "v9.9.9", "", 2*time.Hour,
		cond(v1.ConditionReady, "False", "ReleaseNotFound", "pin.revision"),
		cond(v1.ConditionStalled, "True", "ReleaseNotFound", `pin.revision "v9.9.9" is not a published release of the upstream package (the newest is v1.21.3)`))
	stalled.Status.Sync.Draft = ""
	return []client.Object{policy, proposed, conflicted, stalled}
}

func testOptions(objs ...client.Object) (*options, *bytes.Buffer) {
	out := &bytes.Buffer{}
	o := &options{IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: out}, now: func() time.Time { return now }}
	o.config = genericclioptions.NewConfigFlags(false)
	o.config.Namespace = ptr.To("platform")
	c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(objs...).WithStatusSubresource(&v1.PackageVariant{}, &v1.UpstreamPolicy{}).Build()
	o.newClient = func() (client.Client, error) { return c, nil }
	return o, out
}

func TestGetGolden(t *testing.T) {
	o, out := testOptions(fleet()...)
	c, _ := o.newClient()
	var list v1.PackageVariantList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	if err := o.variantTable(out, list.Items); err != nil {
		t.Fatal(err)
	}
	golden(t, "get", out.String())
}

func TestTreeGolden(t *testing.T) {
	o, out := testOptions(fleet()...)
	c, _ := o.newClient()
	if err := o.tree(context.Background(), c, "app"); err != nil {
		t.Fatal(err)
	}
	golden(t, "tree", out.String())
}

func TestDiffGolden(t *testing.T) {
	deploy := func(replicas, image string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  replicas: " + replicas + "\n  template:\n    spec:\n      containers:\n      - name: app\n        image: " + image + "\n"
	}
	region := func(r string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: region\ndata:\n  region: " + r + "\n"
	}
	rep, err := changes.Compare(changes.Inputs{
		Published:    map[string]string{"deployment.yaml": deploy("3", "app:1.21.2"), "region.yaml": region("eu-west-1"), "notes.md": "ours\n"},
		Proposed:     map[string]string{"deployment.yaml": deploy("3", "app:1.21.3"), "region.yaml": region("eu-west-2"), "notes.md": "ours, edited\n"},
		UpstreamFrom: map[string]string{"deployment.yaml": deploy("1", "app:1.21.2"), "region.yaml": region("placeholder")},
		UpstreamTo:   map[string]string{"deployment.yaml": deploy("1", "app:1.21.3"), "region.yaml": region("placeholder")},
		PersonFiles:  []string{"notes.md"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	printDiff(out, diffReport{Variant: "app-release-4-7", Draft: "release-4-7-89655", Published: "release-4-7-v3", From: "v1.21.2", To: "v1.21.3",
		ReleaseNotes: &v1.ReleaseNotes{Tag: "app/v1.21.3", Annotation: "app 1.21.3: the TLS fix", Commits: []string{"app: bump image to 1.21.3"}},
		Summary:      rep.Counts().Summary(), Resources: rep.Resources, Files: rep.Files, PersonFiles: []string{"notes.md"}}, false)
	golden(t, "diff", out.String())
}
