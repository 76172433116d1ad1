package e2e

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/manager"
	"github.com/forkline/forkline/internal/porch"
)

// writeCounter records the manager's writes to forkline's own resources
// (spec and metadata; status writes of variants are the variant
// controller's and are left out).
type writeCounter struct {
	mu       sync.Mutex
	writes   []string
	statuses []string // variants' status writes: only to know when forkline is at rest
	lists    []string // uncached LIST requests (watches aside)
	gets     int
	next     http.RoundTripper
}

var listable = map[string]bool{"packagerevisions": true, "packagerevisionresources": true, "packagevariants": true, "upstreampolicies": true, "repositories": true, "configmaps": true}

func (c *writeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.Query().Get("watch") != "true" {
		c.mu.Lock()
		if listable[req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]] {
			c.lists = append(c.lists, req.URL.Path)
		} else {
			c.gets++
		}
		c.mu.Unlock()
	}
	if req.Method != http.MethodGet && strings.Contains(req.URL.Path, "/apis/forkline.dev/") {
		path := req.URL.Path
		w := req.Method + " " + path
		if i := strings.Index(path, "/namespaces/"); i >= 0 {
			w = req.Method + " " + path[i:]
		}
		if req.Method == http.MethodPatch && req.GetBody != nil {
			if body, err := req.GetBody(); err == nil {
				b, _ := io.ReadAll(body)
				w += " " + string(b)
			}
		}
		c.mu.Lock()
		if strings.Contains(path, "/packagevariants/") && strings.HasSuffix(path, "/status") {
			c.statuses = append(c.statuses, w)
		} else {
			c.writes = append(c.writes, w)
		}
		c.mu.Unlock()
	}
	return c.next.RoundTrip(req)
}

func (c *writeCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.writes
	c.writes, c.statuses = nil, nil
	sort.Strings(out)
	return out
}

// settle waits until forkline wrote nothing at all, variant statuses
// included, for a whole window: a variant's last status write reaches
// its policy's board up to a second later, so a fixed sleep after the
// board looked done can still catch that write. It fails if forkline
// keeps writing for a minute.
func (c *writeCounter) settle(t *testing.T) {
	t.Helper()
	const window = 2500 * time.Millisecond
	for deadline := time.Now().Add(time.Minute); ; {
		time.Sleep(window)
		c.mu.Lock()
		moving := append(append([]string{}, c.writes...), c.statuses...)
		c.writes, c.statuses = nil, nil
		c.mu.Unlock()
		if len(moving) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("forkline still writes a minute on: %v", moving)
		}
		for i, w := range moving {
			moving[i] = strings.Join(strings.Fields(w)[:2], " ") // the bodies are for failures
		}
		t.Logf("still settling, wrote: %v", moving)
	}
}

// TestUpstreamPolicyFanOut: one policy over four branch repositories (two
// named, two selected by label) keeps a variant per branch, writes nothing
// when nothing changed, updates each variant once on a template change,
// and removes a variant (not its published content) when its target goes.
func TestUpstreamPolicyFanOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const ns = "fan-e2e"
	if err := smoke.PushUpstreamReleases(env, "fan-upstream", "app", "1.21.2", "1.21.3", "1.22.0"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "fan-upstream", "app", "v1.22.0", "rel-4-8", "rel-4-9", "main-branch", "extra")
	label := func(repo, versions string) {
		r := &configapi.Repository{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: repo}, r); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(r.DeepCopy())
		r.Labels = map[string]string{"forkline.dev/fork": "app"}
		r.Annotations = map[string]string{v1.DefaultVersionsAnnotation: versions}
		if err := env.Client.Patch(ctx, r, patch); err != nil {
			t.Fatal(err)
		}
	}
	label("main-branch", ">=1.21")

	counter := &writeCounter{}
	cfg := rest.CopyConfig(managerConfig)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter })
	// A shard of this test's policy alone: variants other tests left in
	// the cluster keep Porch and the manager busy, not this count.
	mgr := newManager(t, cfg, manager.Options{WatchLabelSelector: "forkline.dev/shard=fan-e2e"})
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Logf("manager stopped: %v", err)
		}
	}()

	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app", Labels: map[string]string{"forkline.dev/shard": "fan-e2e"}}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "fan-upstream", Package: "app"}}
	p.Spec.Targets = []v1.Target{
		{Repositories: []v1.RepositoryTarget{
			{Repo: "rel-4-8", ReleaseTrack: v1.ReleaseTrack{Versions: "1.21.x"}},
			{Repo: "rel-4-9", ReleaseTrack: v1.ReleaseTrack{Versions: "1.22.x"}},
		}},
		{RepositorySelector: &v1.RepositorySelectorTarget{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"forkline.dev/fork": "app"}}}},
	}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitPolicy := func(what string, cond func(*v1.UpstreamPolicy) bool) *v1.UpstreamPolicy {
		t.Helper()
		got := &v1.UpstreamPolicy{}
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
				return false, nil
			}
			return cond(got), nil
		})
		if err != nil {
			t.Fatalf("policy never reached %q: %v\nstatus: %+v", what, err, got.Status)
		}
		return got
	}
	allProposed := func(n int) func(*v1.UpstreamPolicy) bool {
		return func(p *v1.UpstreamPolicy) bool {
			if len(p.Status.Targets) != n {
				return false
			}
			for _, row := range p.Status.Targets {
				// Proposed and settled there (AwaitingApproval): Porch
				// can hide a proposal for a moment while it re-lists a
				// repository, and the variant says so until it sees it
				// again.
				if row.Phase != v1.PhaseProposed || row.Waiting == "" {
					return false
				}
			}
			return true
		}
	}
	got := waitPolicy("three variants proposed", allProposed(3))
	tracks := map[string]string{}
	for _, row := range got.Status.Targets {
		tracks[row.Repo] = row.Track + " " + row.Target
	}
	want := map[string]string{"rel-4-8": "1.21.x v1.21.2", "rel-4-9": "1.22.x v1.22.0", "main-branch": ">=1.21 v1.21.2"}
	for repo, w := range want {
		if tracks[repo] != w {
			t.Errorf("row %s = %q, want %q", repo, tracks[repo], w)
		}
	}

	// Nothing changed: a policy pass writes nothing.
	counter.settle(t)
	touch := func(key, value string) {
		cur := &v1.UpstreamPolicy{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(cur.DeepCopy())
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[key] = value
		if err := env.Client.Patch(ctx, cur, patch); err != nil {
			t.Fatal(err)
		}
	}
	counter.mu.Lock()
	counter.lists, counter.gets = nil, 0
	counter.mu.Unlock()
	touch("example.com/poke", "1")
	// Poke every variant too, so each reconciles once with nothing new.
	var pvs v1.PackageVariantList
	if err := env.Client.List(ctx, &pvs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range pvs.Items {
		pv := &pvs.Items[i]
		patch := client.MergeFrom(pv.DeepCopy())
		if pv.Annotations == nil {
			pv.Annotations = map[string]string{}
		}
		pv.Annotations["example.com/poke"] = "1"
		if err := env.Client.Patch(ctx, pv, patch); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second)
	counter.mu.Lock()
	statuses := counter.statuses
	counter.mu.Unlock()
	if writes := counter.take(); len(writes) != 0 {
		t.Errorf("a policy pass with nothing changed wrote %d times: %v\n(variants' status writes meanwhile: %v)", len(writes), writes, statuses)
	} else {
		t.Log("writes by one policy pass when nothing changed: 0")
	}
	counter.mu.Lock()
	lists, gets := counter.lists, counter.gets
	counter.mu.Unlock()
	if len(lists) != 0 {
		t.Errorf("reconciles listed through the API server instead of the cache: %v", lists)
	}
	t.Logf("one policy pass and %d variant passes with nothing new: %d API list calls, %d single-object GETs (draft resources and fresh draft reads)", len(pvs.Items), len(lists), gets)

	// Upstream tags 1.21.4: only the 1.21.x branch sees it.
	if err := smoke.PushUpstreamReleases(env, "fan-upstream", "app", "1.21.4"); err != nil {
		t.Fatal(err)
	}
	latest := func(name string) *v1.PackageVariant {
		pv := &v1.PackageVariant{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pv); err != nil {
			t.Fatal(err)
		}
		return pv
	}
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		pv := latest("app-rel-4-8-app")
		return pv.Status.Upstream != nil && pv.Status.Upstream.LatestMatching == "v1.21.4", nil
	}); err != nil {
		t.Fatalf("v1.21.4 never reached the 1.21.x branch: %v", err)
	}
	if u := latest("app-rel-4-9-app").Status.Upstream; u == nil || u.LatestMatching != "v1.22.0" || strings.Contains(strings.Join(u.Available, ","), "v1.21.4") {
		t.Errorf("the 1.22.x branch saw 1.21.4: %+v", u)
	}

	// Labelling a fourth repository adds its variant.
	label("extra", "1.21.x")
	got = waitPolicy("four variants", allProposed(4))
	if got.Status.Variants != "0/4" {
		t.Errorf("variants = %q, want 0/4 (proposals wait for people)", got.Status.Variants)
	}

	// A reviewer looks at the fleet with the plugin, as themselves.
	reviewer := newPerson(ctx, t, ns, "reviewer", reviewerRules)
	mustContain(t, "get policies", reviewer.mustForkline("get", "policies"), "app", "fan-upstream/app", "0/4")
	mustContain(t, "tree", reviewer.mustForkline("tree", "app"), "UpstreamPolicy/app", "PackageVariant/app-rel-4-8-app", "PackageVariant/app-extra-app", "approval by a person")
	mustContain(t, "reconcile policy", reviewer.mustForkline("reconcile", "policy", "app"), "reconciled: app")
	if out, err := reviewer.forkline("pin", "app-rel-4-8-app", "--to", "v1.21.2", "--reason", "hold it"); err == nil {
		t.Errorf("a generated variant's spec was edited alone, which its policy undoes:\n%s", out)
	} else {
		mustContain(t, "pin of a generated variant", out, "generated by UpstreamPolicy app")
	}
	readyReason := func(p *v1.UpstreamPolicy) string {
		if c := meta.FindStatusCondition(p.Status.Conditions, v1.ConditionReady); c != nil {
			return c.Reason
		}
		return ""
	}
	reviewer.mustForkline("suspend", "policy", "app")
	waitPolicy("suspended by the plugin", func(p *v1.UpstreamPolicy) bool { return readyReason(p) == "Suspended" })
	reviewer.mustForkline("resume", "policy", "app")
	waitPolicy("resumed by the plugin", func(p *v1.UpstreamPolicy) bool { return readyReason(p) != "Suspended" && allProposed(4)(p) })

	// A template change updates every variant exactly once.
	counter.settle(t)
	cur := &v1.UpstreamPolicy{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Template = &v1.PackageVariantTemplate{Labels: map[string]string{"team": "payments"}}
	if err := env.Client.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, name := range []string{"app-rel-4-8-app", "app-rel-4-9-app", "app-main-branch-app", "app-extra-app"} {
			if latest(name).Spec.Labels["team"] != "payments" {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		t.Fatalf("the template change did not reach every variant: %v", err)
	}
	time.Sleep(3 * time.Second)
	updates := map[string]int{}
	for _, w := range counter.take() {
		if path := strings.Fields(w)[1]; strings.Contains(path, "/packagevariants/") {
			updates[path[strings.LastIndex(path, "/")+1:]]++
		}
	}
	if len(updates) != 4 {
		t.Errorf("template change updated %d variants, want 4: %v", len(updates), updates)
	}
	for name, n := range updates {
		if n != 1 {
			t.Errorf("variant %s written %d times for one template change", name, n)
		}
	}

	// Publish the 4.9 branch, then drop its target: the variant goes, the
	// published revision stays (proposed for deletion at most).
	rel49 := latest("app-rel-4-9-app")
	if out, err := env.Porchctl(ctx, "rpkg", "approve", rel49.Status.Sync.Draft, "--namespace", ns); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		u := latest("app-rel-4-9-app").Status.Upstream
		return u != nil && u.Current == "v1.22.0", nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(cur.DeepCopy())
	cur.Spec.Targets[0].Repositories = cur.Spec.Targets[0].Repositories[:1]
	if err := env.Client.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-rel-4-9-app"}, &v1.PackageVariant{})
		return err != nil && client.IgnoreNotFound(err) == nil, nil
	}); err != nil {
		t.Fatalf("the variant of the removed target is still there: %v", err)
	}
	var list porchv1alpha1.PackageRevisionList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, pr := range list.Items {
		if pr.Spec.RepositoryName == "rel-4-9" && porch.Revision(&pr) == "v1" {
			kept++
			t.Logf("rel-4-9's published revision after its target went: %s %s", pr.Name, pr.Spec.Lifecycle)
		}
	}
	if kept != 1 {
		t.Errorf("rel-4-9's published revision v1 is gone (found %d)", kept)
	}

	waitPolicy("three rows again", func(p *v1.UpstreamPolicy) bool { return len(p.Status.Targets) == 3 })

	// An objectSelector target over any kind (ConfigMaps here, one per
	// branch): a new object adds its variant through the watch, long
	// before the safety-net resync.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(cur.DeepCopy())
	cur.Spec.Targets = append(cur.Spec.Targets, v1.Target{ObjectSelector: &v1.ObjectSelectorTarget{
		APIVersion: "v1", Kind: "ConfigMap",
		Selector:  metav1.LabelSelector{MatchLabels: map[string]string{"forkline.dev/branch": "app"}},
		RepoField: "data.repo", VersionsField: "data.track", PackageField: "data.package",
	}})
	if err := env.Client.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	branch := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "branch-x", Labels: map[string]string{"forkline.dev/branch": "app"}},
		Data: map[string]string{"repo": "rel-4-9", "track": "1.22.x", "package": "app-x"}}
	created := time.Now()
	if err := env.Client.Create(ctx, branch); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-rel-4-9-app-x"}, &v1.PackageVariant{}) == nil, nil
	}); err != nil {
		t.Fatalf("a new selected object did not add its variant within 30s: %v", err)
	}
	t.Logf("variant for a newly selected object created %s after the object", time.Since(created).Round(100*time.Millisecond))
	board, _ := env.Kubectl(ctx, "get", "upstreampolicies,packagevariants", "-n", ns)
	t.Logf("kubectl get upstreampolicies,packagevariants:\n%s", board)
}
