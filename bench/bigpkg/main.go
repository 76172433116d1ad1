// Command bigpkg measures large packages on the local stack, in one run:
// for each size, Porch's own clone of the package into N branches (the
// floor), forkline's first sync of it into N other branches, and
// forkline's upgrade of a release that changes 10% of its resources, with
// the bytes forkline wrote, the manager's peak RSS in each of its two
// phases (a fresh manager process for each size) and the ratios to Porch's
// clone.
//
//	go run ./bench/bigpkg                 # 1, 5 and 20 MB into 3 branches
//	SIZES=5 N=3 go run ./bench/bigpkg
//	CHANGE=spread go run ./bench/bigpkg   # the 10% changed spread over every file
//	PROFILE=/tmp/prof go run ./bench/bigpkg  # also keep the manager's heap profile at its largest in each phase
//
// The release changes 10% of the ConfigMaps: the first tenth (CHANGE=first,
// the default: they sit in the first tenth of the files), or every tenth
// (CHANGE=spread: every file changes, so the upgrade is written in several
// patches, each one Porch update of the whole package).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/porch"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-bigpkg:", err)
		os.Exit(1)
	}
}

type row struct {
	mb, files, resources       int
	porchClone, first, upgrade time.Duration
	writes                     int
	writeBytes, maxWrite       float64
	// peakFirst is the manager's peak RSS from its start through the
	// first sync; peakUpgrade from the release's push through the upgrade.
	peakFirst, peakUpgrade int64
}

func run() error {
	sizes := []int{1, 5, 20}
	if v := os.Getenv("SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("reading SIZES: %w", err)
			}
			sizes = append(sizes, n)
		}
	}
	branches := 3
	if v := os.Getenv("N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("reading N: %w", err)
		}
		branches = n
	}
	ctx := context.Background()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	s, err := devstack.Start(ctx, devstack.Options{Logf: logf})
	if err != nil {
		return err
	}
	defer s.Stop()
	defer s.StopOnInterrupt()()
	identity, _, err := s.ManagerIdentity(ctx)
	if err != nil {
		return err
	}
	var rows []row
	var failed error
	for _, mb := range sizes {
		r, err := measure(ctx, s, identity, mb, branches, logf)
		if err != nil {
			// The sizes measured so far are still printed.
			failed = fmt.Errorf("%d MB: %w", mb, err)
			break
		}
		rows = append(rows, r)
	}
	change := "the first 10% of the ConfigMaps (in the first 10% of the files)"
	if os.Getenv("CHANGE") == "spread" {
		change = "every tenth ConfigMap (every file)"
	}
	fmt.Printf("\nbig packages into %d branches, one run; the release changes %s. Times until every branch is proposed; the upgrade from when Porch lists the release\n", branches, change)
	fmt.Printf("%-6s %-7s %-10s %-12s %-12s %-12s %-9s %-9s %-16s %-14s %-9s %-10s\n",
		"size", "files", "resources", "porch clone", "first sync", "upgrade 10%", "1st/clone", "upg/clone", "writes (bytes)", "largest write", "RSS 1st", "RSS upgrade")
	for _, r := range rows {
		fmt.Printf("%-6s %-7d %-10d %-12s %-12s %-12s %-9s %-9s %-16s %-14s %-9s %-10s\n",
			fmt.Sprintf("%d MB", r.mb), r.files, r.resources, round(r.porchClone), round(r.first), round(r.upgrade),
			ratio(r.first, r.porchClone), ratio(r.upgrade, r.porchClone),
			fmt.Sprintf("%d (%.1f MiB)", r.writes, r.writeBytes/(1<<20)), fmt.Sprintf("≤ %.1f MiB", r.maxWrite/(1<<20)),
			fmt.Sprintf("%d MiB", r.peakFirst>>20), fmt.Sprintf("%d MiB", r.peakUpgrade>>20))
	}
	fmt.Println("largest write: the histogram bucket forkline_draft_write_bytes puts it under; the API server's limit is 3 MiB")
	fmt.Println("RSS: the manager's peak resident memory from its start through the first sync, and from the release's push through the upgrade")
	return failed
}

func round(d time.Duration) string {
	if d < 0 {
		return "> 10m"
	}
	return d.Round(100 * time.Millisecond).String()
}

func ratio(a, b time.Duration) string {
	if b == 0 || a < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a.Seconds()/b.Seconds())
}

// bigPackage is a package of about mb MB: 1 KB ConfigMaps, 100 a file; at
// release rel 10% of the ConfigMaps say so (see CHANGE).
func bigPackage(mb int, rel string) (map[string]string, int) {
	spread := os.Getenv("CHANGE") == "spread"
	n := mb * 1000
	files := map[string]string{"Kptfile": fmt.Sprintf(smoke.KptfileTemplate, "big")}
	filler := strings.Repeat("x", 920)
	var b strings.Builder
	for i := range n {
		value := "1.0.0"
		if (spread && i%10 == 0) || (!spread && i < n/10) {
			value = rel
		}
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%06d\ndata:\n  release: %q\n  filler: %s\n---\n", i, value, filler)
		if (i+1)%100 == 0 || i == n-1 {
			files[fmt.Sprintf("configmaps-%04d.yaml", i/100)] = b.String()
			b.Reset()
		}
	}
	return files, n
}

func measure(ctx context.Context, s *devstack.Stack, identity *rest.Config, mb, branches int, logf func(string, ...any)) (row, error) {
	ns, upstream := fmt.Sprintf("big-%d", mb), fmt.Sprintf("big-%d-upstream", mb)
	v100, n := bigPackage(mb, "1.0.0")
	v110, _ := bigPackage(mb, "1.1.0")
	r := row{mb: mb, files: len(v100), resources: n}
	logf("%d MB: %d resources in %d files; registering repositories", mb, n, len(v100))
	if err := s.PushReleases(upstream, "big", devstack.Release{Version: "1.0.0", Files: v100}); err != nil {
		return r, err
	}
	if err := devstack.EnsureNamespace(ctx, s.Client, ns); err != nil {
		return r, err
	}
	var porchRepos, forklineRepos []string
	for i := range branches {
		porchRepos = append(porchRepos, fmt.Sprintf("big-%d-porch-%d", mb, i))
		forklineRepos = append(forklineRepos, fmt.Sprintf("big-%d-forkline-%d", mb, i))
	}
	for _, repo := range append(append([]string{upstream}, porchRepos...), forklineRepos...) {
		if _, err := s.RegisterRepository(ctx, ns, repo, repo); err != nil {
			return r, err
		}
	}
	base, err := s.WaitPackageRevision(ctx, ns, upstream, "big", 2*time.Minute, devstack.Published("v1.0.0"))
	if err != nil {
		return r, err
	}

	logf("%d MB: Porch's clone into %d branches", mb, branches)
	start := time.Now()
	if err := parallel(porchRepos, func(repo string) error {
		pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: repo + "-"}}
		pr.Spec = porchv1alpha1.PackageRevisionSpec{PackageName: "big", RepositoryName: repo, WorkspaceName: "clone", Lifecycle: porchv1alpha1.PackageRevisionLifecycleDraft,
			Tasks: porch.CloneTask(base.Name)}
		return s.Client.Create(ctx, pr)
	}); err != nil {
		return r, err
	}
	r.porchClone = time.Since(start)

	return measureForkline(ctx, s, identity, r, ns, upstream, forklineRepos, v110, logf)
}

// measureForkline runs a fresh manager process (its peak RSS is this
// size's) through the first sync and the upgrade.
func measureForkline(ctx context.Context, s *devstack.Stack, identity *rest.Config, r row, ns, upstream string, repos []string, next map[string]string, logf func(string, ...any)) (row, error) {
	proc, err := devstack.BuildManager(s.Dir, identity)
	if err != nil {
		return r, err
	}
	port, err := freePort()
	if err != nil {
		return r, err
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	args := []string{fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port)}
	profileDir := os.Getenv("PROFILE")
	if profileDir != "" {
		args = append(args, "--profiling")
	}
	if err := proc.Start(args...); err != nil {
		return r, err
	}
	defer proc.Kill()
	// With PROFILE, the heap at its largest in each phase.
	profile := func(phase string) (stop func()) {
		if profileDir == "" {
			return func() {}
		}
		return sampleHeap(fmt.Sprintf("http://127.0.0.1:%d", port), fmt.Sprintf("%s/heap-%dmb-%s.pprof", profileDir, r.mb, phase), logf)
	}
	stopProfile := profile("first")
	defer func() { stopProfile() }() //nolint:gocritic // stopProfile is the upgrade's by then

	logf("%d MB: forkline's first sync into %d branches", r.mb, len(repos))
	start := time.Now()
	for _, repo := range repos {
		pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: repo}}
		pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: upstream, Package: "big"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.x"}}
		pv.Spec.Downstream = v1.Downstream{Repo: repo}
		if err := s.Client.Create(ctx, pv); err != nil {
			return r, err
		}
	}
	if err := waitAll(ctx, s, ns, repos, 10*time.Minute, proposed("v1.0.0")); err != nil {
		return r, err
	}
	r.first = time.Since(start)
	usage, err := devstack.ProcessUsage(proc.PID())
	if err != nil {
		return r, err
	}
	r.peakFirst = usage.PeakRSS
	for _, repo := range repos {
		pv := &v1.PackageVariant{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: repo}, pv); err != nil {
			return r, err
		}
		if _, err := s.Porchctl(ctx, "rpkg", "approve", pv.Status.Sync.Draft, "-n", ns); err != nil {
			return r, err
		}
	}
	if err := waitAll(ctx, s, ns, repos, 5*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.0.0"
	}); err != nil {
		return r, err
	}

	logf("%d MB: forkline's upgrade (10%% of the resources change)", r.mb)
	if err := devstack.ResetPeakRSS(proc.PID()); err != nil {
		return r, err
	}
	stopProfile()
	stopProfile = profile("upgrade")
	logStart := logSize(proc.Log)
	if err := s.PushReleases(upstream, "big", devstack.Release{Version: "1.1.0", Files: next}); err != nil {
		return r, err
	}
	if _, err := s.WaitPackageRevision(ctx, ns, upstream, "big", 2*time.Minute, devstack.Published("v1.1.0")); err != nil {
		return r, err
	}
	start = time.Now()
	if err := waitAll(ctx, s, ns, repos, 10*time.Minute, proposed("v1.1.0")); err != nil {
		logf("%d MB: the upgrade did not finish: %v", r.mb, err)
		r.upgrade = -1
	} else {
		r.upgrade = time.Since(start)
	}
	if usage, err = devstack.ProcessUsage(proc.PID()); err != nil {
		return r, err
	}
	r.peakUpgrade = usage.PeakRSS
	r.writes, r.writeBytes, r.maxWrite, err = writes(metricsURL)
	if err == nil && r.writes > len(repos) {
		// More writes than branches: a draft was written twice. Say why,
		// from what the manager logged in this phase.
		logf("%d MB: %d writes for %d branches; the manager's errors in the upgrade:\n%s", r.mb, r.writes, len(repos), logErrors(proc.Log, logStart, 20))
	}
	return r, err
}

func logSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// logErrors is up to limit lines of the log at path, from offset on, that
// tell of an error or a refusal.
func logErrors(path string, offset int64, limit int) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return fmt.Sprintf("(reading %s: %v)", path, err)
	}
	var lines []string
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		l := strings.ToLower(line)
		if (strings.Contains(l, "error") || strings.Contains(l, "refused")) && len(lines) < limit {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// sampleHeap keeps, at path, the manager's heap profile taken when its heap
// in use was the largest seen (sampled every half second until stop).
func sampleHeap(base, path string, logf func(string, ...any)) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var largest int64
		for {
			select {
			case <-done:
				logf("heap profile at %d MiB in use: %s", largest>>20, path)
				return
			case <-time.After(500 * time.Millisecond):
			}
			inuse, err := heapInuse(base)
			if err != nil || inuse <= largest {
				continue
			}
			resp, err := http.Get(base + "/debug/pprof/heap")
			if err != nil {
				continue
			}
			profile, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && os.WriteFile(path, profile, 0o644) == nil {
				largest = inuse
			}
		}
	}()
	return func() { close(done); <-finished }
}

// heapInuse reads runtime.MemStats.HeapInuse from pprof's text heap page.
func heapInuse(base string) (int64, error) {
	resp, err := http.Get(base + "/debug/pprof/heap?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	_, after, ok := strings.Cut(string(page), "# HeapInuse = ")
	if !ok {
		return 0, fmt.Errorf("no HeapInuse in the heap page")
	}
	n, _, _ := strings.Cut(after, "\n")
	return strconv.ParseInt(strings.TrimSpace(n), 10, 64)
}

func proposed(revision string) func(*v1.PackageVariant) bool {
	return func(pv *v1.PackageVariant) bool {
		return pv.Status.Sync != nil && pv.Status.Sync.Phase == v1.PhaseProposed && pv.Status.Sync.To == revision
	}
}

// waitAll waits until every named variant satisfies done; a Stalled one
// ends the run with its message.
func waitAll(ctx context.Context, s *devstack.Stack, ns string, names []string, timeout time.Duration, done func(*v1.PackageVariant) bool) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, name := range names {
			pv := &v1.PackageVariant{}
			if err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pv); err != nil {
				return false, nil
			}
			for _, c := range pv.Status.Conditions {
				if c.Type == v1.ConditionStalled && c.Status == metav1.ConditionTrue {
					return false, fmt.Errorf("%s is Stalled: %s: %s", name, c.Reason, c.Message)
				}
			}
			if !done(pv) {
				return false, nil
			}
		}
		return true, nil
	})
}

// writes reads forkline_draft_write_bytes: how many writes, their bytes,
// and the upper bound of the bucket holding the largest.
func writes(url string) (n int, sum, largest float64, err error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, 0, 0, err
	}
	f := families["forkline_draft_write_bytes"]
	if f == nil || len(f.Metric) == 0 {
		return 0, 0, 0, nil
	}
	h := f.Metric[0].GetHistogram()
	prev := uint64(0)
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() > prev {
			largest = b.GetUpperBound()
		}
		prev = b.GetCumulativeCount()
	}
	return int(h.GetSampleCount()), h.GetSampleSum(), largest, nil
}

func parallel(items []string, do func(string) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(items))
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = do(it)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
