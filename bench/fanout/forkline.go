package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/fanout"
)

// policyName is the benchmark's UpstreamPolicy in every fleet namespace.
const policyName = "fleet"

// manager is forkline's manager process under measurement.
type manager struct {
	proc    *devstack.ManagerProcess
	metrics string // its metrics endpoint
}

// requests reads the manager's requests so far by API group and verb
// ("porch.kpt.dev GET"; WATCH apart from GET: an informer renews its watch
// every few minutes) and how many of them went to Porch, from
// forkline_api_requests_total.
func (m *manager) requests() (byGroupVerb map[string]float64, porch float64, err error) {
	resp, err := http.Get(m.metrics)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	byGroupVerb = map[string]float64{}
	if f := families["forkline_api_requests_total"]; f != nil {
		for _, m := range f.Metric {
			var group, verb string
			for _, l := range m.Label {
				switch l.GetName() {
				case "group":
					group = l.GetValue()
				case "verb":
					verb = l.GetValue()
				}
			}
			byGroupVerb[group+" "+verb] += m.GetCounter().GetValue()
			if group == "porch.kpt.dev" {
				porch += m.GetCounter().GetValue()
			}
		}
	}
	return byGroupVerb, porch, nil
}

// startPolicy creates the policy that selects the fleet's labelled
// repositories.
func startPolicy(ctx context.Context, f *fleet) error {
	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: policyName}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "upstream", Package: "app"}}
	selector := metav1.LabelSelector{MatchLabels: map[string]string{fleetLabel: "yes"}}
	p.Spec.Targets = []v1.Target{{RepositorySelector: &v1.RepositorySelectorTarget{Selector: selector}}}
	if f.objects {
		p.Spec.Targets = []v1.Target{{ObjectSelector: &v1.ObjectSelectorTarget{
			APIVersion: "v1", Kind: "ConfigMap", Selector: selector,
			RepoField: "data.repo", PackageField: "data.package", VersionsField: "data.versions",
		}}}
	}
	return f.s.Client.Create(ctx, p)
}

// proposedOn is a variant whose proposal for revision waits for a person.
func proposedOn(revision string) func(*v1.PackageVariant) bool {
	return func(pv *v1.PackageVariant) bool {
		s := pv.Status.Sync
		return s != nil && s.Phase == v1.PhaseProposed && s.To == revision
	}
}

// publishedOn is a variant whose published downstream is on revision.
func publishedOn(revision string) func(*v1.PackageVariant) bool {
	return func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == revision
	}
}

// waitVariants watches the policy's variants until n of them satisfy
// done. A watch, not a poll: listing hundreds of variants a few times a
// second would cost the API server more than forkline does.
func waitVariants(ctx context.Context, f *fleet, n int, timeout time.Duration, done func(*v1.PackageVariant) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := devstack.NewWatchClient(f.s.Config)
	if err != nil {
		return err
	}
	state := map[string]bool{}
	count := func() int {
		have := 0
		for _, ok := range state {
			if ok {
				have++
			}
		}
		return have
	}
	for ctx.Err() == nil {
		// The watch starts with every variant as it is (an ADDED event
		// each); a closed watch starts over.
		w, err := c.Watch(ctx, &v1.PackageVariantList{}, client.InNamespace(f.ns), client.MatchingLabels{fanout.PolicyLabel: policyName})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			pv, ok := ev.Object.(*v1.PackageVariant)
			if !ok {
				continue
			}
			state[pv.Name] = ev.Type != watch.Deleted && done(pv)
			if count() >= n {
				w.Stop()
				return nil
			}
		}
		w.Stop()
	}
	return fmt.Errorf("%d of %d variants got there: %w", count(), n, ctx.Err())
}

// approveProposals is a person approving every proposal forkline made in
// the fleet, 4 at a time, never two in one repository at once: Porch
// v1.3.0 re-lists a repository after each approval without its cache lock,
// and two such re-lists of one repository crash porch-server ("concurrent
// map iteration and map write", seen at N = 1,000 with 50 packages a
// repository).
func approveProposals(ctx context.Context, f *fleet, person *floor) error {
	var list porchv1alpha1.PackageRevisionList
	if err := f.s.Client.List(ctx, &list, client.InNamespace(f.ns)); err != nil {
		return err
	}
	byRepo := map[string][]*porchv1alpha1.PackageRevision{}
	for i := range list.Items {
		pr := &list.Items[i]
		if strings.HasPrefix(pr.Spec.PackageName, "app") && pr.Spec.RepositoryName != "upstream" && pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleProposed {
			byRepo[pr.Spec.RepositoryName] = append(byRepo[pr.Spec.RepositoryName], pr)
		}
	}
	repos := slices.Sorted(maps.Keys(byRepo))
	return parallel(len(repos), 4, func(i int) error { return person.approve(ctx, byRepo[repos[i]], 1) })
}

// label selects the late repository.
func (f *fleet) label(ctx context.Context, repo string) error {
	patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:"yes"}}}`, fleetLabel)))
	obj := &configapi.Repository{}
	obj.Namespace, obj.Name = f.ns, repo
	return f.s.Client.Patch(ctx, obj, patch)
}
