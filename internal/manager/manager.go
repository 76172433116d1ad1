// Package manager assembles forkline's controller-runtime manager: the
// scheme (forkline's and Porch's types), health and metrics endpoints and
// leader election. The controllers are registered by their own package
// (controllers.Setup), wired together in cmd/manager.
package manager

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/pprof"
	"strings"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	forklinev1alpha1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
)

// Options are the manager's command-line settings.
type Options struct {
	MetricsAddr             string
	ProbeAddr               string
	LeaderElection          bool
	LeaderElectionNamespace string
	// WatchLabelSelector shards forkline as Flux shards its controllers:
	// this manager reconciles only the PackageVariants and UpstreamPolicies
	// whose labels match (e.g. forkline.dev/shard=a, or
	// !forkline.dev/shard for the unsharded rest). Policies copy their
	// forkline.dev/shard label to their variants, so a policy and its
	// variants land on one shard.
	WatchLabelSelector string
	// Profiling serves Go's pprof handlers under /debug/pprof/ on the
	// metrics endpoint, as kube components' --profiling does.
	Profiling bool
	// Porch records whether the manager can read Porch's answers; the
	// controllers state it (controllers.Options.Porch). New makes one when
	// nil.
	Porch *porch.Support
	// OnlyCurrentPorch reads Porch's answers only as Porch v1.4+ writes
	// them: a Porch v1.3 is then a Porch forkline does not speak (the test
	// of what that reads as).
	OnlyCurrentPorch bool
}

// leaderElectionID is the lease's name: one per shard, so shards run side
// by side and replicas of one shard elect one leader.
func leaderElectionID(selector string) string {
	if selector == "" {
		return "forkline-manager.forkline.dev"
	}
	h := fnv.New32a()
	h.Write([]byte(selector))
	return fmt.Sprintf("forkline-manager-%08x.forkline.dev", h.Sum32())
}

// Scheme registers every type forkline reads or writes.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		porchv1alpha1.AddToScheme,
		configapi.AddToScheme,
		forklinev1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// New builds a manager with forkline's scheme, probes and leader election.
func New(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, fmt.Errorf("building scheme: %w", err)
	}
	// Count what the manager asks of each API group (Porch above all).
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(metrics.CountRequests)
	if !opts.OnlyCurrentPorch {
		porch.Speak(cfg)
	}
	if opts.Porch == nil {
		opts.Porch = &porch.Support{}
	}
	cacheOpts := cache.Options{DefaultWatchErrorHandler: porchUnreadable(opts.Porch)}
	if opts.WatchLabelSelector != "" {
		sel, err := labels.Parse(opts.WatchLabelSelector)
		if err != nil {
			return nil, fmt.Errorf("--watch-label-selector %q: %w", opts.WatchLabelSelector, err)
		}
		cacheOpts.ByObject = map[client.Object]cache.ByObject{
			&forklinev1alpha1.PackageVariant{}: {Label: sel},
			&forklinev1alpha1.UpstreamPolicy{}: {Label: sel},
		}
	}
	metricsOpts := metricsserver.Options{BindAddress: opts.MetricsAddr}
	if opts.Profiling {
		metricsOpts.ExtraHandlers = map[string]http.Handler{
			"/debug/pprof/":        http.HandlerFunc(pprof.Index),
			"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
			"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
			"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   cacheOpts,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  opts.ProbeAddr,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        leaderElectionID(opts.WatchLabelSelector),
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// A replica stopping (a rollout, a drain) hands the lease over at
		// once instead of leaving it to expire; the manager's controllers
		// have stopped by then.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("porch", opts.Porch.Readyz); err != nil {
		return nil, err
	}
	return mgr, nil
}

// porchUnreadable notes in support a Porch kind whose list or watch
// answers do not decode (a Porch version forkline does not speak) before
// client-go logs and retries it as any watch error.
func porchUnreadable(support *porch.Support) toolscache.WatchErrorHandlerWithContext {
	return func(ctx context.Context, r *toolscache.Reflector, err error) {
		if kind := r.TypeDescription(); strings.Contains(kind, "PackageRevision") || strings.Contains(kind, "Repository") {
			if support.Unreadable(kind, err) {
				log.FromContext(ctx).Error(err, "cannot read Porch's answers", "kind", kind)
			}
		}
		toolscache.DefaultWatchErrorHandler(ctx, r, err)
	}
}
