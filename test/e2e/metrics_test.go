package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/manager"
)

// TestMetricsMoveWithASync scrapes the manager's metrics endpoint while a
// variant proposes a release and a person approves it: the phase, the
// counters and the release-to-published histogram move as they should.
func TestMetricsMoveWithASync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const ns = "met-e2e"
	if err := smoke.PushUpstreamReleases(env, "met-upstream", "app", "1.0.0", "1.0.1"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "met-upstream", "app", "v1.0.1", "met-down")
	addr := freeAddr(t)
	// The counters are the process's, and variants other tests left in the
	// cluster may still move them: this manager is a shard of one variant.
	const shard = "forkline.dev/shard=metrics-e2e"
	mgr := newManager(t, managerConfig, manager.Options{MetricsAddr: addr, WatchLabelSelector: shard})
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Logf("manager stopped: %v", err)
		}
	}()
	var before map[string]float64
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		var err error
		before, err = scrape(addr)
		return err == nil, nil
	}); err != nil {
		t.Fatalf("the metrics endpoint never answered: %v", err)
	}

	pv := newVariant(ns, "app", "met-upstream", "met-down", "1.0.x", v1.DeletionOrphan)
	pv.Spec.Pin = &v1.Pin{Revision: "v1.0.0", Reason: "one release at a time"}
	pv.Labels = map[string]string{"forkline.dev/shard": "metrics-e2e"}
	v := createVariant(ctx, t, ns, pv)
	got := v.waitVariant("v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	series := func(name, labels string) string { return name + "{" + labels + "}" }
	variant := `namespace="met-e2e",variant="app"`
	waitMetric := func(what, key string, want func(float64) bool) map[string]float64 {
		t.Helper()
		var m map[string]float64
		if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			var err error
			m, err = scrape(addr)
			return err == nil && want(m[key]), nil
		}); err != nil {
			t.Fatalf("%s: %s is %v", what, key, m[key])
		}
		return m
	}
	proposed := waitMetric("while proposed", series("forkline_variant_phase", `namespace="met-e2e",phase="Proposed",variant="app"`), func(x float64) bool { return x == 1 })
	if d := proposed["forkline_drafts_created_total"] - before["forkline_drafts_created_total"]; d != 1 {
		t.Errorf("drafts created moved by %v, want 1", d)
	}
	if d := proposed[`forkline_merges_total{result="clean"}`] - before[`forkline_merges_total{result="clean"}`]; d != 0 {
		t.Errorf("a first sync (a clone) counted %v merges", d)
	}
	if n := proposed[series("forkline_variant_target_release_age_seconds", variant)]; n <= 0 {
		t.Errorf("target release age while proposed = %v, want > 0", n)
	}

	v.porchctl("rpkg", "approve", got.Status.Sync.Draft)
	waitMetric("once published", series("forkline_variant_phase", `namespace="met-e2e",phase="Published",variant="app"`), func(x float64) bool { return x == 1 })
	// The phase gauge moves before the status write, the counters once it
	// is written: wait for the person's approval to be counted.
	published := waitMetric("the approval counted", `forkline_approvals_total{by="person"}`, func(x float64) bool { return x > before[`forkline_approvals_total{by="person"}`] })
	for key, want := range map[string]float64{
		`forkline_approvals_total{by="person"}`:                  1,
		"forkline_release_to_published_seconds_count":            1,
		"forkline_release_to_proposed_seconds_count":             1,
		series("forkline_variant_unresolved_conflicts", variant): 0,
	} {
		got := published[key]
		if !strings.HasPrefix(key, "forkline_variant") {
			got -= before[key]
		}
		if got != want {
			t.Errorf("%s moved to %v, want %v", key, got, want)
		}
	}
	if n := published[series("forkline_variant_phase", `namespace="met-e2e",phase="Proposed",variant="app"`)]; n != 0 {
		t.Errorf("the Proposed phase series outlived the phase: %v", n)
	}
	// Unpinned, one release behind until it is proposed.
	patchVariant(t, ctx, v.key, func(pv *v1.PackageVariant) { pv.Spec.Pin = nil })
	v.waitVariant("v1.0.1 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.1"))
	m := waitMetric("behind by one", series("forkline_variant_releases_behind", variant), func(x float64) bool { return x == 1 })
	if d := m[`forkline_merges_total{result="clean"}`] - before[`forkline_merges_total{result="clean"}`]; d != 1 {
		t.Errorf("clean merges moved by %v, want 1", d)
	}
	var lines []string
	for k, x := range m {
		if strings.Contains(k, "met-e2e") || strings.HasPrefix(k, "forkline_approvals") || strings.HasPrefix(k, "forkline_drafts") {
			lines = append(lines, fmt.Sprintf("%s %v", k, x))
		}
	}
	t.Logf("forkline's series for the variant:\n%s", strings.Join(lines, "\n"))
}

// scrape reads the metrics endpoint's text format into series -> value.
func scrape(addr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		x, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = x
		}
	}
	return out, sc.Err()
}
