// Command fanout measures one upstream release fanning out to N downstream
// repositories, in one run on one local stack: a floor client doing only
// the Porch calls the job needs (one at a time, then 4 at a time), then
// forkline's UpstreamPolicy on the same repositories (another package). It
// prints times, API requests by verb, CPU and the manager's memory, and
// forkline's ratios to the 4-way floor.
//
//	go run ./bench/fanout                 # N = 10, 100, 300
//	N=1000 go run ./bench/fanout          # the scale run
//	IDLE=10s N=10 go run ./bench/fanout   # a quick look
//	SETTLE=2m IDLE=1m N=301 go run ./bench/fanout  # quiet after a longer pause
//	MANAGER=/tmp/manager go run ./bench/fanout  # another build of cmd/manager
//	MANAGER_ARGS=--concurrent=8 go run ./bench/fanout
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fanout:", err)
		os.Exit(1)
	}
}

func run() error {
	sizes, err := sizesFrom(os.Getenv("N"))
	if err != nil {
		return err
	}
	idle := 60 * time.Second
	if v := os.Getenv("IDLE"); v != "" {
		if idle, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("IDLE: %w", err)
		}
	}
	if v := os.Getenv("SETTLE"); v != "" {
		if settle, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("SETTLE: %w", err)
		}
	}
	ctx := context.Background()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	// Porch's default re-list period, as a platform team runs it (the
	// tests' stack re-lists every 10 s).
	s, err := devstack.Start(ctx, devstack.Options{Logf: logf, RepoSyncFrequency: time.Minute})
	if err != nil {
		return err
	}
	defer s.Stop()
	defer s.StopOnInterrupt()()

	identity, _, err := s.ManagerIdentity(ctx)
	if err != nil {
		return err
	}
	var proc *devstack.ManagerProcess
	if bin := os.Getenv("MANAGER"); bin != "" {
		proc, err = devstack.ManagerFrom(bin, s.Dir, identity)
	} else {
		proc, err = devstack.BuildManager(s.Dir, identity)
	}
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	args := append([]string{fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port)}, strings.Fields(os.Getenv("MANAGER_ARGS"))...)
	if err := proc.Start(args...); err != nil {
		return err
	}
	m := &manager{proc: proc, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", port)}
	// The stack's directory goes with it: keep the manager's log.
	kept := filepath.Join(os.TempDir(), "forkline-bench-fanout-manager.log")
	defer func() {
		proc.Kill()
		if b, err := os.ReadFile(proc.Log); err == nil && os.WriteFile(kept, b, 0o644) == nil {
			logf("manager log: %s", kept)
		}
	}()

	for _, n := range sizes {
		measure := measureFleet
		if n >= scaleFrom {
			measure = measureScale
		}
		r, f, err := measure(ctx, s, m, n, idle, logf)
		if err != nil {
			return fmt.Errorf("size %d: %w", n, err)
		}
		r.print(os.Stdout)
		if err := f.retire(ctx); err != nil {
			return fmt.Errorf("size %d: unregistering its repositories: %w", n, err)
		}
	}
	return nil
}

// settle is the pause before the quiet phase (SETTLE): the previous phase
// ends when the bench sees its last proposal, and forkline's board follows
// within a second or two.
var settle = 5 * time.Second

// scaleFrom is the N from which a run measures forkline alone: variants
// share repositories (packagesPerRepo), and the floor is not run.
const scaleFrom = 301

// measureScale fans a release out to n variants selected by ConfigMaps,
// has a person approve them all, and upgrades them: forkline alone.
func measureScale(ctx context.Context, s *devstack.Stack, m *manager, n int, idle time.Duration, logf func(string, ...any)) (*report, *fleet, error) {
	logf("N=%d: %d ConfigMaps naming packages in %d repositories", n, n, (n+packagesPerRepo-1)/packagesPerRepo)
	f, err := newScaleFleet(ctx, s, fmt.Sprintf("fan-%d", n), n)
	if err != nil {
		return nil, nil, err
	}
	person, err := newFloor(s.Config, f.ns)
	if err != nil {
		return nil, nil, err
	}
	probe := newProbe(s, m, person)
	r := &report{n: n, variants: n}
	timeout := time.Duration(n)*2*time.Second + 2*time.Minute
	phases := []struct {
		name    string
		prepare func() (time.Time, error) // its requests count, not its time
		do      func() error
		quiet   bool // measured after forkline settled
	}{
		{"new fan-out, all proposed", nil, func() error {
			if err := startPolicy(ctx, f); err != nil {
				return err
			}
			return waitVariants(ctx, f, n, timeout, proposedOn("v1.0.0"))
		}, false},
		{"approval of all", nil, func() error {
			if err := approveProposals(ctx, f, person); err != nil {
				return err
			}
			return waitVariants(ctx, f, n, timeout, publishedOn("v1.0.0"))
		}, false},
		// From the moment the release shows.
		{"upgrade, all proposed", func() (time.Time, error) { return f.release(ctx) }, func() error {
			return waitVariants(ctx, f, n, timeout, proposedOn("v1.1.0"))
		}, false},
		{fmt.Sprintf("%s of nothing changing", idle), nil, func() error { time.Sleep(idle); return nil }, true},
	}
	for _, ph := range phases {
		logf("N=%d: %s", n, ph.name)
		if ph.quiet {
			time.Sleep(settle)
		}
		if err := r.addFrom(probe, ph.name, forkline, ph.prepare, ph.do); err != nil {
			return nil, nil, err
		}
	}
	r.rss, err = devstack.ProcessUsage(m.proc.PID())
	return r, f, err
}

// measureFleet runs every phase for one N in its own namespace.
func measureFleet(ctx context.Context, s *devstack.Stack, m *manager, n int, idle time.Duration, logf func(string, ...any)) (*report, *fleet, error) {
	logf("N=%d: registering %d downstream repositories", n, n+1)
	f, err := newFleet(ctx, s, fmt.Sprintf("fan-%d", n), n)
	if err != nil {
		return nil, nil, err
	}
	fl, err := newFloor(s.Config, f.ns)
	if err != nil {
		return nil, nil, err
	}
	person, err := newFloor(s.Config, f.ns)
	if err != nil {
		return nil, nil, err
	}
	probe := newProbe(s, m, fl)
	r := &report{n: n}
	first, timeout := f.upstreams["v1.0.0"], time.Duration(n)*2*time.Second+2*time.Minute

	logf("N=%d: floor, new fan-out", n)
	if err := r.add(probe, "new fan-out, all proposed", floorSeq, func() error {
		_, err := fl.fanOut(ctx, f.repos, "floor-seq", first, 1)
		return err
	}); err != nil {
		return nil, nil, err
	}
	var published []*porchv1alpha1.PackageRevision
	if err := r.add(probe, "new fan-out, all proposed", floor4, func() (err error) {
		published, err = fl.fanOut(ctx, f.repos, "floor", first, 4)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if err := r.add(probe, "approval of all", floor4, func() error { return fl.approve(ctx, published, 4) }); err != nil {
		return nil, nil, err
	}

	logf("N=%d: forkline, new fan-out", n)
	if err := r.add(probe, "new fan-out, all proposed", forkline, func() error {
		if err := startPolicy(ctx, f); err != nil {
			return err
		}
		return waitVariants(ctx, f, n, timeout, proposedOn("v1.0.0"))
	}); err != nil {
		return nil, nil, err
	}
	if err := r.add(probe, "approval of all", forkline, func() error {
		if err := approveProposals(ctx, f, person); err != nil {
			return err
		}
		return waitVariants(ctx, f, n, timeout, publishedOn("v1.0.0"))
	}); err != nil {
		return nil, nil, err
	}

	logf("N=%d: upstream v1.1.0", n)
	if err := r.addFrom(probe, "upgrade, all proposed", forkline, func() (time.Time, error) { return f.release(ctx) }, func() error {
		return waitVariants(ctx, f, n, timeout, proposedOn("v1.1.0"))
	}); err != nil {
		return nil, nil, err
	}
	if err := r.add(probe, "upgrade, all proposed", floor4, func() error {
		return fl.upgrade(ctx, published, first, f.upstreams["v1.1.0"], 4)
	}); err != nil {
		return nil, nil, err
	}

	logf("N=%d: a newly labelled repository", n)
	if err := r.add(probe, "newly labelled repository, proposed", forkline, func() error {
		if err := f.label(ctx, f.late); err != nil {
			return err
		}
		// A new branch starts at the oldest release its track matches.
		return waitVariants(ctx, f, 1, timeout, func(pv *v1.PackageVariant) bool {
			return pv.Spec.Downstream.Repo == f.late && proposedOn("v1.0.0")(pv)
		})
	}); err != nil {
		return nil, nil, err
	}

	logf("N=%d: %s of nothing changing", n, idle)
	time.Sleep(settle)
	if err := r.add(probe, fmt.Sprintf("%s of nothing changing", idle), forkline, func() error {
		time.Sleep(idle)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	r.rss, err = devstack.ProcessUsage(m.proc.PID())
	r.variants = n + 1
	return r, f, err
}

func sizesFrom(v string) ([]int, error) {
	if v == "" {
		return []int{10, 100, 300}, nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("sizes (N): %q is not a positive number", f)
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
