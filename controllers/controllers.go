// Package controllers registers forkline's controllers with a manager: the
// PackageVariant controller, which follows one upstream into one fork, and
// the UpstreamPolicy controller, which fans an upstream out to variants.
package controllers

import (
	"context"
	"fmt"
	"runtime"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/forkline/forkline/controllers/packagevariant"
	"github.com/forkline/forkline/controllers/upstreampolicy"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/upstream"
)

// Options tune the controllers.
type Options struct {
	// AllowRestarts lets a process register the controllers again with a
	// new manager after stopping the first (tests that restart forkline).
	AllowRestarts bool
	// Concurrency is how many variants, and how many policies, reconcile
	// at once; DefaultConcurrency when zero.
	Concurrency int
	// UpstreamCache holds the clones of upstream repositories forkline
	// reads itself; a cache under the system's temporary directory when
	// nil.
	UpstreamCache *upstream.Cache
	// Porch is what the manager sees of Porch's answers
	// (manager.Options.Porch): when it cannot read them, every variant
	// says so.
	Porch *porch.Support
}

// DefaultConcurrency is two workers a CPU, at least 4: a reconcile mostly
// waits on Porch, and Porch works on different repositories in parallel.
func DefaultConcurrency() int { return max(4, 2*runtime.NumCPU()) }

// Setup registers both controllers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	workers := opts.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency()
	}
	pvOpts := []packagevariant.Option{packagevariant.WithConcurrency(workers)}
	upOpts := []upstreampolicy.Option{upstreampolicy.WithConcurrency(workers)}
	if opts.UpstreamCache != nil {
		pvOpts = append(pvOpts, packagevariant.WithUpstreamCache(opts.UpstreamCache))
	}
	if opts.Porch != nil {
		pvOpts = append(pvOpts, packagevariant.WithPorchSupport(opts.Porch))
	}
	if opts.AllowRestarts {
		pvOpts = append(pvOpts, packagevariant.WithRestarts())
		upOpts = append(upOpts, upstreampolicy.WithRestarts())
	}
	if err := packagevariant.NewReconciler(mgr, pvOpts...).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the PackageVariant controller: %w", err)
	}
	if err := upstreampolicy.NewReconciler(mgr, upOpts...).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the UpstreamPolicy controller: %w", err)
	}
	return nil
}
