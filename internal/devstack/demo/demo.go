// Package demo is forkline's whole story on the local stack, as `make demo`
// shows it: an UpstreamPolicy fans an upstream package out to three release
// branches with different tracks; two follow upstream on their own under
// automatic approval; the third, approved by people, carries a local change
// that an upstream release conflicts with, and a person resolves the
// conflict with the kubectl plugin, reads the proposal's diff and approves
// it, the way they would on any cluster.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/cli"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/porch"
)

const (
	// Namespace holds the demo's repositories, policy and variants.
	Namespace = "demo"
	// Upstream is the upstream git repository (and Porch Repository).
	Upstream = "demo-upstream"
	// Package is the upstream package the fork follows.
	Package = "app"
	policy  = "app"
)

// branch is one release branch of the fork.
type branch struct {
	repo, track string
	approval    v1.ApprovalMode
}

var branches = []branch{
	{"release-4-8", "1.21.x", v1.ManualApproval},
	{"release-4-9", "1.22.x", v1.AutomaticApproval},
	{"release-4-10", "1.23.x", v1.AutomaticApproval},
}

// variant is the name the policy gives a branch's PackageVariant.
func (b branch) variant() string { return policy + "-" + b.repo + "-" + Package }

// release is upstream's package at a version, with its replica count.
func release(version string, replicas int) devstack.Release {
	deployment := strings.Replace(fmt.Sprintf(smoke.DeploymentTemplate, Package, version), "replicas: 1", fmt.Sprintf("replicas: %d", replicas), 1)
	return devstack.Release{Version: version, Files: map[string]string{
		"Kptfile":         fmt.Sprintf(smoke.KptfileTemplate, Package),
		"deployment.yaml": deployment,
	}}
}

// Run plays the demo. startManager starts forkline's manager on the stack
// in the background, running until ctx ends (the caller wires it, as
// cmd/manager does).
func Run(ctx context.Context, s *devstack.Stack, startManager func(context.Context) error, logf func(string, ...any)) error {
	d := &demo{ctx: ctx, s: s, logf: logf, started: time.Now()}
	return d.run(startManager)
}

type demo struct {
	ctx     context.Context
	s       *devstack.Stack
	logf    func(string, ...any)
	started time.Time
	step    int
}

// say prints the next numbered step with the time since the start.
func (d *demo) say(format string, args ...any) {
	d.step++
	d.logf("\n[%5.1fs] %d. %s", time.Since(d.started).Seconds(), d.step, fmt.Sprintf(format, args...))
}

// show prints a command as a person would type it, and its output.
func (d *demo) show(out string, command ...string) {
	d.logf("   $ %s\n%s", strings.Join(command, " "), indent(strings.TrimRight(out, "\n")))
}

func (d *demo) porchctl(args ...string) error {
	out, err := d.s.Porchctl(d.ctx, append(args, "-n", Namespace)...)
	if err != nil {
		return err
	}
	d.show(out, append([]string{"porchctl"}, append(args, "-n", Namespace)...)...)
	return nil
}

// board shows the policy and its variants once the policy's board says
// upToDate branches are up to date (it is rewritten at most once a second).
func (d *demo) board(upToDate int) error {
	want := fmt.Sprintf("%d/%d", upToDate, len(branches))
	err := wait.PollUntilContextTimeout(d.ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		p := &v1.UpstreamPolicy{}
		return d.s.Client.Get(d.ctx, client.ObjectKey{Namespace: Namespace, Name: policy}, p) == nil && p.Status.Variants == want, nil
	})
	if err != nil {
		return fmt.Errorf("the policy's board never said %s up to date: %w", want, err)
	}
	out, err := d.s.Kubectl(d.ctx, "get", "upstreampolicies,packagevariants", "-n", Namespace)
	if err != nil {
		return err
	}
	d.show(out, "kubectl", "get", "upol,fpv", "-n", Namespace)
	return nil
}

func (d *demo) run(startManager func(context.Context) error) error {
	if err := devstack.EnsureNamespace(d.ctx, d.s.Client, Namespace); err != nil {
		return err
	}
	d.say("upstream publishes %s as git tags %s/v1.21.2, %s/v1.22.0 and %s/v1.23.0 (replicas: 1)", Package, Package, Package, Package)
	if err := d.s.PushReleases(Upstream, Package, release("1.21.2", 1), release("1.22.0", 1), release("1.23.0", 1)); err != nil {
		return err
	}
	d.say("register Porch repositories: %s, and the fork's release branches %s, %s, %s", Upstream, branches[0].repo, branches[1].repo, branches[2].repo)
	for _, repo := range []string{Upstream, branches[0].repo, branches[1].repo, branches[2].repo} {
		if _, err := d.s.RegisterRepository(d.ctx, Namespace, repo, repo); err != nil {
			return err
		}
	}
	if _, err := d.s.WaitPackageRevision(d.ctx, Namespace, Upstream, Package, time.Minute, devstack.Published("v1.23.0")); err != nil {
		return err
	}
	d.say("start forkline's manager")
	if err := startManager(d.ctx); err != nil {
		return err
	}

	d.say("apply an UpstreamPolicy: %s follows 1.21.x (a person approves), %s 1.22.x and %s 1.23.x (forkline approves)", branches[0].repo, branches[1].repo, branches[2].repo)
	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: policy}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: Upstream, Package: Package}}
	p.Spec.Template = &v1.PackageVariantTemplate{Approval: &v1.Approval{Mode: v1.AutomaticApproval}, DeletionPolicy: v1.DeletionOrphan}
	for _, b := range branches {
		t := v1.Target{Repositories: []v1.RepositoryTarget{{Repo: b.repo, ReleaseTrack: v1.ReleaseTrack{Versions: b.track}}}}
		if b.approval == v1.ManualApproval {
			t.Template = &v1.PackageVariantTemplate{Approval: &v1.Approval{Mode: v1.ManualApproval}}
		}
		p.Spec.Targets = append(p.Spec.Targets, t)
	}
	if err := d.s.Client.Create(d.ctx, p); err != nil {
		return err
	}
	if err := d.waitBranches("v1.21.2", "v1.22.0", "v1.23.0"); err != nil {
		return err
	}
	d.say("forkline cloned each release into a Draft per branch; it published %s and %s itself, %s waits for a person:", branches[1].repo, branches[2].repo, branches[0].repo)
	if err := d.board(2); err != nil {
		return err
	}
	if err := d.approve(branches[0], "v1.21.2"); err != nil {
		return err
	}

	d.say("a person changes %s for their product: replicas 1 -> 3, published as the branch's own revision", branches[0].repo)
	if err := d.localChange(branches[0]); err != nil {
		return err
	}

	d.say("upstream publishes v1.21.3, v1.22.1 and v1.23.1, raising replicas to 2")
	if err := d.s.PushReleases(Upstream, Package, release("1.21.3", 2), release("1.22.1", 2), release("1.23.1", 2)); err != nil {
		return err
	}
	if err := d.waitBranches("v1.21.3", "v1.22.1", "v1.23.1"); err != nil {
		return err
	}
	pv, err := d.variant(branches[0])
	if err != nil {
		return err
	}
	d.say("%s and %s merged and published by themselves; %s changed replicas too, so forkline stops and shows the conflict field by field:", branches[1].repo, branches[2].repo, branches[0].repo)
	for _, c := range pv.Status.Sync.Conflicts {
		d.logf("   %s %s %s: base %s, upstream %s, downstream %s", c.File, c.Resource, c.Path, c.Base, c.Upstream, c.Downstream)
	}
	if err := d.board(2); err != nil {
		return err
	}

	d.say("a person looks with the kubectl plugin, and resolves it: keep the branch's replicas 3 (the porchctl way is docs/conflicts.md)")
	if err := d.forkline("tree", policy); err != nil {
		return err
	}
	if err := d.forkline("conflicts", pv.Name); err != nil {
		return err
	}
	if err := d.forkline("resolve", pv.Name, "--take", "downstream", "spec.replicas"); err != nil {
		return err
	}
	if err := d.waitPhase(branches[0], "v1.21.3", v1.PhaseProposed); err != nil {
		return err
	}
	d.say("forkline saw the resolution and proposed the draft; the person reads what it changes, and approves it")
	if err := d.forkline("diff", pv.Name); err != nil {
		return err
	}
	if err := d.forkline("approve", pv.Name); err != nil {
		return err
	}
	if err := d.waitPhase(branches[0], "v1.21.3", v1.PhasePublished); err != nil {
		return err
	}

	d.say("every branch is on its track's newest release, the person's change kept (%.0fs):", time.Since(d.started).Seconds())
	if err := d.board(3); err != nil {
		return err
	}
	for _, b := range branches {
		tags, err := devstack.GitOutput("", "ls-remote", "--tags", d.s.Git.RepoURL(b.repo))
		if err != nil {
			return err
		}
		var names []string
		for _, line := range strings.Split(strings.TrimSpace(tags), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				names = append(names, strings.TrimPrefix(f[1], "refs/tags/"))
			}
		}
		d.logf("   git ls-remote --tags %s: %s", b.repo, strings.Join(names, " "))
	}
	return nil
}

// waitBranches waits until each branch (in branches' order) has published
// or proposed its revision, or stopped on a conflict.
func (d *demo) waitBranches(revisions ...string) error {
	for i, b := range branches {
		err := wait.PollUntilContextTimeout(d.ctx, 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
			pv, err := d.variant(b)
			if err != nil || pv.Status.Sync == nil || pv.Status.Sync.To != revisions[i] {
				return false, nil
			}
			switch pv.Status.Sync.Phase {
			case v1.PhaseConflicted, v1.PhaseProposed:
				return b.approval == v1.ManualApproval, nil
			case v1.PhasePublished:
				return true, nil
			}
			return false, nil
		})
		if err != nil {
			pv, _ := d.variant(b)
			return fmt.Errorf("%s did not reach %s: %w (status %+v)", b.repo, revisions[i], err, pv.Status.Sync)
		}
	}
	return nil
}

func (d *demo) waitPhase(b branch, revision string, phase v1.SyncPhase) error {
	err := wait.PollUntilContextTimeout(d.ctx, 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		pv, err := d.variant(b)
		return err == nil && pv.Status.Sync != nil && pv.Status.Sync.To == revision && pv.Status.Sync.Phase == phase, nil
	})
	if err != nil {
		return fmt.Errorf("%s never reached %s for %s: %w", b.repo, phase, revision, err)
	}
	return nil
}

func (d *demo) variant(b branch) (*v1.PackageVariant, error) {
	pv := &v1.PackageVariant{}
	return pv, d.s.Client.Get(d.ctx, client.ObjectKey{Namespace: Namespace, Name: b.variant()}, pv)
}

// approve is a person approving the branch's proposal for revision.
func (d *demo) approve(b branch, revision string) error {
	if err := d.waitPhase(b, revision, v1.PhaseProposed); err != nil {
		return err
	}
	pv, err := d.variant(b)
	if err != nil {
		return err
	}
	if err := d.porchctl("rpkg", "approve", pv.Status.Sync.Draft); err != nil {
		return err
	}
	return d.waitPhase(b, revision, v1.PhasePublished)
}

// localChange is a person's own change to the branch: a new revision from
// the published one, edited, proposed and approved with porchctl.
func (d *demo) localChange(b branch) error {
	published, err := d.revision(b.repo, func(pr *porchv1alpha1.PackageRevision) bool {
		return porch.Number(pr) > 0
	})
	if err != nil {
		return err
	}
	if err := d.porchctl("rpkg", "copy", published.Name, "--workspace", "more-replicas"); err != nil {
		return err
	}
	copied, err := d.revision(b.repo, func(pr *porchv1alpha1.PackageRevision) bool { return pr.Spec.WorkspaceName == "more-replicas" })
	if err != nil {
		return err
	}
	draft := copied.Name
	if err := d.edit(draft, func(dir string) error {
		return replaceIn(filepath.Join(dir, "deployment.yaml"), "replicas: 1", "replicas: 3")
	}, "deployment.yaml: replicas: 1 -> replicas: 3"); err != nil {
		return err
	}
	for _, verb := range []string{"propose", "approve"} {
		if err := d.porchctl("rpkg", verb, draft); err != nil {
			return err
		}
	}
	return nil
}

// forkline runs kubectl forkline, the plugin's own code in this process,
// with the stack's kubeconfig, and shows it as a person types it.
func (d *demo) forkline(args ...string) error {
	var out bytes.Buffer
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	cmd.SetArgs(append(args, "-n", Namespace, "--kubeconfig", d.s.Kubeconfig))
	err := cmd.ExecuteContext(d.ctx)
	d.show(out.String(), append([]string{"kubectl", "forkline"}, append(args, "-n", Namespace)...)...)
	if err != nil {
		return fmt.Errorf("kubectl forkline %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// edit pulls a draft into a directory, changes it as a person would in an
// editor, and pushes it back.
func (d *demo) edit(draft string, change func(dir string) error, what string) error {
	dir, err := os.MkdirTemp(d.s.Dir, "edit-")
	if err != nil {
		return err
	}
	dir = filepath.Join(dir, draft)
	if err := d.porchctl("rpkg", "pull", draft, dir); err != nil {
		return err
	}
	if err := change(dir); err != nil {
		return err
	}
	d.logf("   (edit) %s", what)
	return d.porchctl("rpkg", "push", draft, dir)
}

// revision is the one revision of the package in repo that match accepts.
func (d *demo) revision(repo string, match func(*porchv1alpha1.PackageRevision) bool) (*porchv1alpha1.PackageRevision, error) {
	var list porchv1alpha1.PackageRevisionList
	if err := d.s.Client.List(d.ctx, &list, client.InNamespace(Namespace)); err != nil {
		return nil, err
	}
	var found []*porchv1alpha1.PackageRevision
	for i := range list.Items {
		if pr := &list.Items[i]; pr.Spec.RepositoryName == repo && pr.Spec.PackageName == Package && match(pr) {
			found = append(found, pr)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%d revisions of %s in %s match, want one", len(found), Package, repo)
	}
	return found[0], nil
}

func replaceIn(path, from, to string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), from) {
		return fmt.Errorf("%s holds no %q", path, from)
	}
	return os.WriteFile(path, []byte(strings.ReplaceAll(string(b), from, to)), 0o644)
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "   " + strings.ReplaceAll(s, "\n", "\n   ")
}

// TagYourself is how a person publishes the next upstream release of the
// demo from a shell, and watches forkline follow it.
func TagYourself(s *devstack.Stack) string {
	url := s.Git.RepoURL(Upstream)
	return fmt.Sprintf(`Publish the next upstream release yourself and watch the branches follow:
  bin/kubectl get upol,fpv -n %[2]s -w
  rm -rf /tmp/%[3]s && git clone -q %[1]s /tmp/%[3]s && cd /tmp/%[3]s && sed -i -E 's/1\.2[0-9]\.[0-9]+/1.22.2/' %[4]s/deployment.yaml && git -c user.name=you -c user.email=you@example.com commit -qam '%[4]s 1.22.2' && git tag %[4]s/v1.22.2 && git push -q origin main %[4]s/v1.22.2
release-4-9 (1.22.x, automatic approval) takes v1.22.2 by itself within seconds of Porch's next poll.`, url, Namespace, Upstream, Package)
}
