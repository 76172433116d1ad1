// Command manager runs forkline's controllers.
package main

import (
	"flag"
	"os"
	"path/filepath"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/forkline/forkline/controllers"
	"github.com/forkline/forkline/internal/manager"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/upstream"
)

func main() {
	var opts manager.Options
	var ctrlOpts controllers.Options
	flag.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; \"0\" disables it.")
	flag.StringVar(&opts.ProbeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&opts.LeaderElection, "leader-elect", true, "Elect a leader so only one replica reconciles at a time.")
	flag.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader-election lease; defaults to the pod's namespace.")
	flag.StringVar(&opts.WatchLabelSelector, "watch-label-selector", "", "Reconcile only the PackageVariants and UpstreamPolicies whose labels match (sharding, e.g. forkline.dev/shard=a; the unsharded manager takes !forkline.dev/shard).")
	flag.IntVar(&ctrlOpts.Concurrency, "concurrent", controllers.DefaultConcurrency(), "How many variants (and policies) reconcile at once; one variant never reconciles twice at the same time.")
	flag.BoolVar(&opts.Profiling, "profiling", false, "Serve Go's pprof profiles under /debug/pprof/ on the metrics endpoint.")
	cacheDir := flag.String("upstream-cache-dir", filepath.Join(os.TempDir(), "forkline-upstream"), "Directory of the upstream repositories' clones forkline reads the locked commits from (an emptyDir: it is only a cache).")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	ctrlOpts.UpstreamCache = upstream.NewCache(*cacheDir)
	opts.Porch = &porch.Support{}
	ctrlOpts.Porch = opts.Porch
	ctx := ctrl.SetupSignalHandler()
	mgr, err := manager.New(ctrl.GetConfigOrDie(), opts)
	if err == nil {
		err = controllers.Setup(ctx, mgr, ctrlOpts)
	}
	if err != nil {
		log.Error(err, "unable to set up the manager")
		os.Exit(1)
	}
	log.Info("starting manager")
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}
