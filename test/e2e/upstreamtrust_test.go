package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
)

// maintainer is an upstream maintainer's clone of an upstream repository.
type maintainer struct {
	t    *testing.T
	repo string
	dir  string
}

func upstreamMaintainer(t *testing.T, repo string) *maintainer {
	t.Helper()
	dir := t.TempDir()
	if err := devstack.Git("", "clone", "--quiet", bareRepo(repo), dir); err != nil {
		t.Fatal(err)
	}
	m := &maintainer{t: t, repo: repo, dir: dir}
	m.git("checkout", "--quiet", "-B", "main", "origin/main")
	return m
}

func bareRepo(name string) string { return filepath.Join(env.Git.Root, name+".git") }

func (m *maintainer) git(args ...string) string {
	m.t.Helper()
	out, err := devstack.GitOutput(m.dir, args...)
	if err != nil {
		m.t.Fatal(err)
	}
	return out
}

// commit writes the package app's deployment at version with replicas
// and commits it.
func (m *maintainer) commit(msg, version string, replicas int) {
	m.t.Helper()
	deployment := strings.Replace(releaseDeployment(version), "replicas: 1", fmt.Sprintf("replicas: %d", replicas), 1)
	if err := os.WriteFile(filepath.Join(m.dir, "app", "deployment.yaml"), []byte(deployment), 0o644); err != nil {
		m.t.Fatal(err)
	}
	m.git("commit", "--quiet", "-am", msg)
}

// push force-pushes main and every tag, as a maintainer re-tagging does.
func (m *maintainer) push() {
	m.git("push", "--quiet", "--force", "origin", "main", "+refs/tags/*:refs/tags/*")
}

// tagsRemote is git ls-remote --tags of the repository, commits and all.
func tagsRemote(t *testing.T, repo string) string {
	t.Helper()
	out, err := devstack.GitOutput("", "ls-remote", "--tags", env.Git.RepoURL(repo))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventsOf are the variant's Events, reason and message a line.
func (v *variantTest) events() string {
	out, _ := env.Kubectl(v.ctx, "get", "events", "-n", v.ns, "--field-selector", "involvedObject.kind=PackageVariant,involvedObject.name="+v.key.Name,
		"-o", "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message")
	return out
}

func conditionIs(condType, reason string) func(*v1.PackageVariant) bool {
	return func(pv *v1.PackageVariant) bool {
		c := meta.FindStatusCondition(pv.Status.Conditions, condType)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason
	}
}

func appReleases(versions ...string) []devstack.Release {
	var out []devstack.Release
	for _, version := range versions {
		out = append(out, devstack.Release{Version: version, Files: map[string]string{
			"Kptfile":         fmt.Sprintf(smoke.KptfileTemplate, "app"),
			"deployment.yaml": releaseDeployment(version),
		}})
	}
	return out
}

// followApp publishes the upstream's package app at release first,
// registers the upstream and the downstream in ns, starts a manager and
// creates the variant app following it on versions. The manager stops
// when the test ends.
func followApp(ctx context.Context, t *testing.T, ns, upstreamRepo, downstreamRepo, first, versions string) *variantTest {
	t.Helper()
	if err := env.PushReleases(upstreamRepo, "app", appReleases(first)...); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, upstreamRepo, "app", "v"+first, downstreamRepo)
	t.Cleanup(startManager(t))
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: upstreamRepo, Package: "app"}, ReleaseTrack: v1.ReleaseTrack{Versions: versions}}
	pv.Spec.Downstream = v1.Downstream{Repo: downstreamRepo}
	return createVariant(ctx, t, ns, pv)
}

// TestForceMovedTagKeepsPersonsEdit is the maintainer's fix-up re-tag: the
// branch is on app/v1.0.1 (replicas 1) with a person's published edit
// (replicas 3); upstream re-tags v1.0.1 on a commit that says replicas 3,
// then releases v1.0.2 (replicas 1). The merge's base is the commit the
// downstream locks, so the person's 3 survives (upstream's own change was
// 1 -> 1); the move is stated, and automatic approval waits for a person.
func TestForceMovedTagKeepsPersonsEdit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns, upstreamRepo, downstreamRepo = "moved-e2e", "moved-upstream", "moved-downstream"
	v := followApp(ctx, t, ns, upstreamRepo, downstreamRepo, "1.0.1", "1.0.x")
	got := v.waitVariant("v1.0.1 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.1"))
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("on v1.0.1", time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.0.1" && meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate)
	})
	v.publishEdit(downstreamRepo, "local-edit", "replicas: 1", "replicas: 3")
	v.waitVariant("on the person's edit", time.Minute, conditionIs(v1.ConditionUpToDate, "UpToDate"))
	// From here forkline would approve on its own, were nothing wrong.
	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) {
		pv.Spec.Approval = &v1.Approval{Mode: v1.AutomaticApproval, Windows: []v1.ApprovalWindow{{Start: "00:00", End: "24:00"}}}
	})

	before := tagsRemote(t, upstreamRepo)
	m := upstreamMaintainer(t, upstreamRepo)
	m.commit("app: fix-up of v1.0.1 (replicas 3)", "1.0.1", 3)
	m.git("tag", "--force", "app/v1.0.1")
	m.commit("app v1.0.2", "1.0.2", 1)
	m.git("tag", "app/v1.0.2")
	m.push()
	after := tagsRemote(t, upstreamRepo)
	t.Logf("git ls-remote --tags of the upstream before the move:\n%s\nafter:\n%s", before, after)

	got = v.waitVariant("v1.0.2 proposed, the move stated, approval waiting for a person", 3*time.Minute, func(pv *v1.PackageVariant) bool {
		return phaseIs(v1.PhaseProposed, "v1.0.2")(pv) && conditionIs(v1.ConditionUpstreamReleaseMoved, "BaseMoved")(pv) &&
			awaiting("UpstreamMoved")(pv)
	})
	deployment := v.draftResources(got.Status.Sync.Draft)["deployment.yaml"]
	t.Logf("the proposal's deployment.yaml:\n%s", deployment)
	mustContain(t, "the proposal's deployment.yaml", deployment, "replicas: 3", "image: registry.example.com/app:1.0.2")
	for _, c := range got.Status.Conditions {
		t.Logf("condition %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
	events := v.events()
	t.Logf("events:\n%s", events)
	mustContain(t, "events", events, "UpstreamReleaseMoved", "moved from commit")
	notes := got.Status.Sync.ReleaseNotes
	if notes == nil || !strings.Contains(strings.Join(notes.Commits, "\n"), "app v1.0.2") || !strings.Contains(strings.Join(notes.Commits, "\n"), "fix-up of v1.0.1") {
		t.Errorf("release notes %+v lack the upstream commits between the locked one and v1.0.2", notes)
	}
	// Nothing was approved by forkline: the proposal is still open.
	time.Sleep(3 * time.Second)
	if pr := latestDownstream(t, v.downstreamOf(downstreamRepo)); pr.Annotations[v1.AnnotationApprovedAt] != "" {
		t.Errorf("forkline approved %s while the upstream tag it stood on had moved", pr.Name)
	}
}

// TestMovedTargetOfAnOpenProposal: the tag of the release a proposal was
// built from moves. forkline does not approve the proposal, says so, and
// rebuilds it from the new commit when a person accepts the move.
func TestMovedTargetOfAnOpenProposal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns, upstreamRepo, downstreamRepo = "movedtarget-e2e", "movedtarget-upstream", "movedtarget-downstream"
	v := followApp(ctx, t, ns, upstreamRepo, downstreamRepo, "1.0.0", "1.0.x")
	got := v.waitVariant("v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	draft := got.Status.Sync.Draft
	built := got.Status.Sync.UpstreamCommit
	if built == "" {
		t.Fatal("status.sync.upstreamCommit is empty")
	}

	m := upstreamMaintainer(t, upstreamRepo)
	m.commit("app: re-cut v1.0.0 with two replicas", "1.0.0", 2)
	m.git("tag", "--force", "app/v1.0.0")
	m.push()
	moved := strings.TrimSpace(m.git("rev-parse", "app/v1.0.0"))

	got = v.waitVariant("the move stated, Stalled", 3*time.Minute, func(pv *v1.PackageVariant) bool {
		return conditionIs(v1.ConditionUpstreamReleaseMoved, "TargetMoved")(pv) && conditionIs(v1.ConditionStalled, "UpstreamReleaseMoved")(pv)
	})
	stalled := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionStalled)
	t.Logf("Stalled: %s", stalled.Message)
	mustContain(t, "the Stalled message", stalled.Message, "app/v1.0.0", built[:12], moved[:12], v1.AnnotationAcceptMoved)
	mustContain(t, "the proposal's deployment.yaml while stopped", v.draftResources(draft)["deployment.yaml"], "replicas: 1")
	mustContain(t, "events", v.events(), "UpstreamReleaseMoved", "affected: draft "+draft)

	// A person accepts the move of that tag to that commit.
	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) {
		if pv.Annotations == nil {
			pv.Annotations = map[string]string{}
		}
		pv.Annotations[v1.AnnotationAcceptMoved] = "app/v1.0.0@" + moved[:12]
	})
	got = v.waitVariant("rebuilt from the new commit and proposed", 3*time.Minute, func(pv *v1.PackageVariant) bool {
		return phaseIs(v1.PhaseProposed, "v1.0.0")(pv) && pv.Status.Sync.UpstreamCommit == moved
	})
	if got.Status.Sync.Draft != draft {
		t.Errorf("the rebuild made draft %s, not the proposal %s rebuilt", got.Status.Sync.Draft, draft)
	}
	rebuilt := v.draftResources(got.Status.Sync.Draft)
	mustContain(t, "the rebuilt proposal's deployment.yaml", rebuilt["deployment.yaml"], "replicas: 2")
	mustContain(t, "the rebuilt proposal's Kptfile", rebuilt["Kptfile"], "commit: "+moved)
	if c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionUpstreamReleaseMoved); c != nil {
		t.Errorf("UpstreamReleaseMoved still set after the rebuild: %s", c.Message)
	}
}

// TestDeletedBaseTagStillMerges: the release the branch is on is deleted
// upstream; the merge works from the locked commit, and the variant notes
// it without failing.
func TestDeletedBaseTagStillMerges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns, upstreamRepo, downstreamRepo = "deletedbase-e2e", "deletedbase-upstream", "deletedbase-downstream"
	v := followApp(ctx, t, ns, upstreamRepo, downstreamRepo, "1.0.0", "1.x")
	got := v.waitVariant("v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("on v1.0.0", time.Minute, conditionIs(v1.ConditionUpToDate, "UpToDate"))
	v.publishEdit(downstreamRepo, "local-edit", "replicas: 1", "replicas: 3")
	v.waitVariant("on the person's edit", time.Minute, conditionIs(v1.ConditionUpToDate, "UpToDate"))

	m := upstreamMaintainer(t, upstreamRepo)
	m.commit("app v1.1.0", "1.1.0", 1)
	m.git("tag", "app/v1.1.0")
	m.git("tag", "--delete", "app/v1.0.0")
	m.git("push", "--quiet", "origin", "main", "app/v1.1.0", ":refs/tags/app/v1.0.0")

	got = v.waitVariant("v1.1.0 proposed from the locked commit", 3*time.Minute, phaseIs(v1.PhaseProposed, "v1.1.0"))
	mustContain(t, "the proposal's deployment.yaml", v.draftResources(got.Status.Sync.Draft)["deployment.yaml"], "replicas: 3", "app:1.1.0")
	if c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		t.Errorf("Stalled: %s", c.Message)
	}
	waitEvents(t, v, "UpstreamReleaseDeleted", "app/v1.0.0")
}

func waitEvents(t *testing.T, v *variantTest, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		events := v.events()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(events, w) {
				missing = w
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event says %q:\n%s", missing, events)
		}
		time.Sleep(time.Second)
	}
}

// signer makes OpenPGP keys and signed tags, as a release pipeline does.
type signer struct {
	entity *openpgp.Entity
	public string // armored
}

func newSigner(t *testing.T, name string) signer {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err == nil {
		err = e.Serialize(w)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return signer{entity: e, public: buf.String()}
}

// signedCommit is commit, signed by s as a release pipeline signs
// (git commit -S).
func (m *maintainer) signedCommit(msg, version string, replicas int, s signer) {
	m.t.Helper()
	deployment := strings.Replace(releaseDeployment(version), "replicas: 1", fmt.Sprintf("replicas: %d", replicas), 1)
	if err := os.WriteFile(filepath.Join(m.dir, "app", "deployment.yaml"), []byte(deployment), 0o644); err != nil {
		m.t.Fatal(err)
	}
	repo, err := git.PlainOpen(m.dir)
	if err != nil {
		m.t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err == nil {
		_, err = wt.Add("app/deployment.yaml")
	}
	if err == nil {
		_, err = wt.Commit(msg, &git.CommitOptions{SignKey: s.entity,
			Author: &object.Signature{Name: "release", Email: "release@example.com", When: time.Now()}})
	}
	if err != nil {
		m.t.Fatal(err)
	}
}

// signedTag tags HEAD name with an annotated tag, signed by s when s has
// a key, as `git tag -s` does.
func (m *maintainer) signedTag(name, msg string, s *signer) {
	m.t.Helper()
	repo, err := git.PlainOpen(m.dir)
	if err != nil {
		m.t.Fatal(err)
	}
	head, err := repo.Head()
	if err != nil {
		m.t.Fatal(err)
	}
	opts := &git.CreateTagOptions{Message: msg, Tagger: &object.Signature{Name: "release", Email: "release@example.com", When: time.Now()}}
	if s != nil {
		opts.SignKey = s.entity
	}
	if _, err := repo.CreateTag(name, head.Hash(), opts); err != nil {
		m.t.Fatal(err)
	}
}

// TestSignedAnnotatedTags: Porch v1.4+ lists releases of annotated tags,
// so a release can be vouched for by its tag's signature (verify.mode Tag):
// v1.0.0's annotated tag is signed by the release key, v1.1.0's is
// annotated but unsigned. A variant walking oldest first takes v1.0.0 and
// stops at v1.1.0, saying why.
func TestSignedAnnotatedTags(t *testing.T) {
	if env.Bin.PorchVersion == devstack.PorchOlder {
		t.Skipf("Porch %s lists no release of an annotated tag (docs/concepts.md); TestSignedReleases signs commits for it", env.Bin.PorchVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const ns, upstreamRepo = "signed-tags-e2e", "signed-tags-upstream"
	release := newSigner(t, "release-bot")
	if err := env.PushReleases(upstreamRepo, "app", appReleases("0.9.0")...); err != nil {
		t.Fatal(err)
	}
	m := upstreamMaintainer(t, upstreamRepo)
	m.commit("app v1.0.0", "1.0.0", 1)
	m.signedTag("app/v1.0.0", "app v1.0.0, signed by the release bot", &release)
	m.commit("app v1.1.0", "1.1.0", 1)
	m.signedTag("app/v1.1.0", "app v1.1.0, annotated, not signed", nil)
	m.push()
	registerRepos(ctx, t, ns, upstreamRepo, "app", "v1.1.0", "signed-tags-down")
	trustReleaseKey(ctx, t, ns, release)
	stop := startManager(t)
	defer stop()

	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tags"}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: upstreamRepo, Package: "app"},
		ReleaseTrack:  v1.ReleaseTrack{Versions: ">=1.0.0"},
		UpstreamTrust: v1.UpstreamTrust{Verify: &v1.Verification{Mode: v1.VerifyTag, SecretRef: v1.SecretReference{Name: "release-keys"}}}}
	pv.Spec.Downstream = v1.Downstream{Repo: "signed-tags-down"}
	v := createVariant(ctx, t, ns, pv)
	got := v.waitVariant("v1.0.0 proposed, its tag verified", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	if c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReleaseVerified); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "release-bot") {
		t.Errorf("ReleaseVerified = %+v, want True naming release-bot", c)
	}
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	got = v.waitVariant("stopped at v1.1.0", 2*time.Minute, conditionIs(v1.ConditionStalled, "ReleaseNotVerified"))
	stalled := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionStalled)
	t.Logf("Stalled: %s", stalled.Message)
	mustContain(t, "the Stalled message", stalled.Message, "app/v1.1.0")
	for _, pr := range v.downstreamOf("signed-tags-down") {
		if strings.Contains(string(pr.Spec.WorkspaceName), "1-1-0") {
			t.Errorf("a draft %s was made of the unverified v1.1.0", pr.Name)
		}
	}
}

// trustReleaseKey puts the release key in Secret release-keys of ns and
// lets forkline read it.
func trustReleaseKey(ctx context.Context, t *testing.T, ns string, release signer) {
	t.Helper()
	keys := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "release-keys"}, Data: map[string][]byte{"release-bot.asc": []byte(release.public)}}
	if err := env.Client.Create(ctx, keys); err != nil {
		t.Fatal(err)
	}
	grantSecrets(ctx, t, ns, "release-keys")
}

// grantSecrets lets forkline's ServiceAccount read the named Secrets of
// ns: the Role docs/install.md tells a namespace to grant.
func grantSecrets(ctx context.Context, t *testing.T, ns string, names ...string) {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forkline-upstream-secrets"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: names}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forkline-upstream-secrets"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "forkline-system", Name: "forkline-manager"}}}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSignedReleases: the commit of v1.0.0 is signed by the release key,
// v1.1.0's is not signed, v1.2.0's is signed by another key (Porch v1.3.0
// lists releases of lightweight tags only, so the commit carries the
// signature: mode Commit). A variant walking oldest first takes v1.0.0 and
// stops at v1.1.0 with its reason; one taking the latest skips both
// unverified releases and takes v1.0.0.
func TestSignedReleases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns, upstreamRepo = "signed-e2e", "signed-upstream"
	release, stranger := newSigner(t, "release-bot"), newSigner(t, "stranger")
	if err := env.PushReleases(upstreamRepo, "app", appReleases("0.9.0")...); err != nil {
		t.Fatal(err)
	}
	m := upstreamMaintainer(t, upstreamRepo)
	m.signedCommit("app v1.0.0: first signed release", "1.0.0", 1, release)
	m.git("tag", "app/v1.0.0")
	m.commit("app v1.1.0", "1.1.0", 1)
	m.git("tag", "app/v1.1.0")
	m.signedCommit("app v1.2.0", "1.2.0", 1, stranger)
	m.git("tag", "app/v1.2.0")
	m.push()
	registerRepos(ctx, t, ns, upstreamRepo, "app", "v1.2.0", "signed-oldest", "signed-latest")
	trustReleaseKey(ctx, t, ns, release)
	stop := startManager(t)
	defer stop()

	variant := func(name, repo string, order v1.ReleaseOrder) *variantTest {
		pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: upstreamRepo, Package: "app"},
			ReleaseTrack:  v1.ReleaseTrack{Versions: ">=1.0.0", Order: order},
			UpstreamTrust: v1.UpstreamTrust{Verify: &v1.Verification{Mode: v1.VerifyCommit, SecretRef: v1.SecretReference{Name: "release-keys"}}}}
		pv.Spec.Downstream = v1.Downstream{Repo: repo}
		return createVariant(ctx, t, ns, pv)
	}
	oldest, latest := variant("oldest", "signed-oldest", v1.OldestFirst), variant("latest", "signed-latest", v1.Latest)

	got := latest.waitVariant("latest: v1.0.0 proposed, the newest verified", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	if c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReleaseVerified); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "release-bot") {
		t.Errorf("ReleaseVerified = %+v, want True naming release-bot", c)
	}
	if notes := got.Status.Sync.ReleaseNotes; notes == nil || len(notes.Commits) == 0 || notes.Commits[0] != "app v1.0.0: first signed release" {
		t.Errorf("release notes %+v lack the release's commit", notes)
	}
	latestEvents := latest.events()
	mustContain(t, "latest's events", latestEvents, "ReleaseNotVerified", "app/v1.2.0", "does not verify", "app/v1.1.0", "not signed")

	got = oldest.waitVariant("oldest: v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	oldest.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	got = oldest.waitVariant("oldest: stopped at v1.1.0", 2*time.Minute, conditionIs(v1.ConditionStalled, "ReleaseNotVerified"))
	stalled := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionStalled)
	t.Logf("oldest, Stalled: %s", stalled.Message)
	mustContain(t, "the Stalled message", stalled.Message, "app/v1.1.0", "not signed", "skip")
	for _, pr := range oldest.downstreamOf("signed-oldest") {
		if strings.Contains(string(pr.Spec.WorkspaceName), "1-1-0") {
			t.Errorf("a draft %s was made of the unverified v1.1.0", pr.Name)
		}
	}
	// A person skips v1.1.0: v1.2.0 is next, and wrongly signed.
	patchVariant(t, ctx, oldest.key, func(pv *v1.PackageVariant) { pv.Spec.Upstream.Skip = []string{"v1.1.0"} })
	got = oldest.waitVariant("oldest: stopped at v1.2.0", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionStalled)
		return c != nil && c.Reason == "ReleaseNotVerified" && strings.Contains(c.Message, "app/v1.2.0")
	})
	t.Logf("oldest, Stalled: %s", meta.FindStatusCondition(got.Status.Conditions, v1.ConditionStalled).Message)
}

// TestPrivateUpstream: the upstream's git needs credentials; Porch and
// forkline read it with the Repository's Secret, which the namespace lets
// forkline read. The merge's base comes from forkline's own read.
func TestPrivateUpstream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns, upstreamRepo, downstreamRepo = "private-e2e", "private-upstream", "private-downstream"
	if err := env.PushReleases(upstreamRepo, "app", appReleases("1.0.0")...); err != nil {
		t.Fatal(err)
	}
	env.Git.RequireAuth(upstreamRepo, "reader", "t0ken")
	if err := devstack.EnsureNamespace(ctx, env.Client, ns); err != nil {
		t.Fatal(err)
	}
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "upstream-creds"}, Type: corev1.SecretTypeBasicAuth,
		Data: map[string][]byte{"username": []byte("reader"), "password": []byte("t0ken")}}
	if err := env.Client.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	grantSecrets(ctx, t, ns, "upstream-creds")
	repo := &configapi.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: upstreamRepo},
		Spec: configapi.RepositorySpec{Type: configapi.RepositoryTypeGit, Content: ptr.To(configapi.RepositoryContentPackage),
			Git: &configapi.GitRepository{Repo: env.Git.RepoURL(upstreamRepo), Branch: "main", Directory: "/", SecretRef: configapi.SecretRef{Name: "upstream-creds"}}}}
	if err := env.Client.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if _, err := env.RegisterRepository(ctx, ns, downstreamRepo, downstreamRepo); err != nil {
		t.Fatal(err)
	}
	if _, err := env.WaitPackageRevision(ctx, ns, upstreamRepo, "app", time.Minute, devstack.Published("v1.0.0")); err != nil {
		t.Fatal(err)
	}
	stop := startManager(t)
	defer stop()
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: upstreamRepo, Package: "app"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.x"}}
	pv.Spec.Downstream = v1.Downstream{Repo: downstreamRepo}
	v := createVariant(ctx, t, ns, pv)
	got := v.waitVariant("v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	if !conditionIs(v1.ConditionLockedCommit, "GitRead")(got) {
		t.Errorf("LockedCommit: %+v", meta.FindStatusCondition(got.Status.Conditions, v1.ConditionLockedCommit))
	}
	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	v.waitVariant("on v1.0.0", time.Minute, conditionIs(v1.ConditionUpToDate, "UpToDate"))
	v.publishEdit(downstreamRepo, "local-edit", "replicas: 1", "replicas: 3")
	v.waitVariant("on the person's edit", time.Minute, conditionIs(v1.ConditionUpToDate, "UpToDate"))
	if err := env.PushReleases(upstreamRepo, "app", appReleases("1.1.0")...); err != nil {
		t.Fatal(err)
	}
	got = v.waitVariant("v1.1.0 proposed", 3*time.Minute, phaseIs(v1.PhaseProposed, "v1.1.0"))
	mustContain(t, "the proposal's deployment.yaml", v.draftResources(got.Status.Sync.Draft)["deployment.yaml"], "replicas: 3", "app:1.1.0")
	if n := env.Git.ForklineRequests(upstreamRepo); n == 0 {
		t.Error("forkline never read the private upstream itself")
	} else {
		t.Logf("forkline's own requests to the private upstream: %d", n)
	}
}

// TestFanOutFetchesOnce: 50 branches follow one upstream; a release fans
// out to all of them, and forkline's own reads of the upstream's git (the
// locked commits, the release notes) fetch it once per release, not once
// per branch. Counted on the git server, by forkline's User-Agent.
func TestFanOutFetchesOnce(t *testing.T) {
	if env.Bin.PorchVersion != devstack.PorchOlder {
		// 50 drafts created at once against Porch v1.5.8 syncing every
		// 10 s meet its cache races: in two runs, one draft dropped from
		// Porch's cache (forkline states it, DraftNotServed) and one
		// proposal listed as the Draft it was (forkline now checks git
		// before it calls that a rejection). What this test counts,
		// forkline's own fetches, does not depend on Porch: the
		// compatibility leg runs it on v1.3.0.
		t.Skipf("Porch %s's cache races at 50 concurrent drafts (docs/install.md); the compatibility leg runs it on %s", env.Bin.PorchVersion, devstack.PorchOlder)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	const ns, upstreamRepo, branches = "fetch-e2e", "fetch-upstream", 50
	if err := env.PushReleases(upstreamRepo, "app", appReleases("1.0.0")...); err != nil {
		t.Fatal(err)
	}
	// 50 branches: 5 downstream repositories of 10 packages each.
	var repos []string
	for i := range 5 {
		repos = append(repos, fmt.Sprintf("fetch-down-%d", i))
	}
	registerRepos(ctx, t, ns, upstreamRepo, "app", "v1.0.0", repos...)
	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: upstreamRepo, Package: "app"}}
	var targets []v1.RepositoryTarget
	for _, r := range repos {
		for j := range branches / len(repos) {
			targets = append(targets, v1.RepositoryTarget{Repo: r, Package: fmt.Sprintf("app-%d", j), ReleaseTrack: v1.ReleaseTrack{Versions: "1.x"}})
		}
	}
	p.Spec.Targets = []v1.Target{{Repositories: targets}}
	p.Spec.Template = &v1.PackageVariantTemplate{Approval: &v1.Approval{Mode: v1.AutomaticApproval, Windows: []v1.ApprovalWindow{{Start: "00:00", End: "24:00"}}}}
	stop := startManager(t)
	defer stop()
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	allPublished := func(revision string) {
		t.Helper()
		v := &variantTest{t: t, ctx: ctx, ns: ns}
		for _, pv := range waitVariants(ctx, t, ns, branches) {
			v.key = client.ObjectKeyFromObject(&pv)
			v.waitVariant("on "+revision, 4*time.Minute, func(pv *v1.PackageVariant) bool {
				return pv.Status.Upstream != nil && pv.Status.Upstream.Current == revision
			})
		}
	}
	allPublished("v1.0.0")
	first := env.Git.ForklineRequests(upstreamRepo)
	if err := env.PushReleases(upstreamRepo, "app", appReleases("1.1.0")...); err != nil {
		t.Fatal(err)
	}
	allPublished("v1.1.0")
	upgrade := env.Git.ForklineRequests(upstreamRepo) - first
	t.Logf("forkline's git requests to the upstream: first sync of %d branches %d, upgrade of %d branches %d (a fetch is 2 requests: info/refs and upload-pack)", branches, first, branches, upgrade)
	if first > 4 || upgrade > 4 {
		t.Errorf("fan-out of %d fetched the upstream more than twice per release: %d and %d requests", branches, first, upgrade)
	}
}

// waitVariants waits for n variants in ns.
func waitVariants(ctx context.Context, t *testing.T, ns string, n int) []v1.PackageVariant {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pvs := variantsIn(ctx, t, ns)
		if len(pvs) == n {
			return pvs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d variants in %s, want %d", len(pvs), ns, n)
		}
		time.Sleep(time.Second)
	}
}
