// Package controllers registers forkline's controllers with a manager: the
// PackageVariant controller, which follows one upstream into one fork, and
// the UpstreamPolicy controller, which fans an upstream out to variants.
package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/forkline/forkline/controllers/packagevariant"
	"github.com/forkline/forkline/controllers/upstreampolicy"
)

// Options tune the controllers.
type Options struct {
	// AllowRestarts lets a process register the controllers again with a
	// new manager after stopping the first (tests that restart forkline).
	AllowRestarts bool
}

// Setup registers both controllers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	var pvOpts []packagevariant.Option
	var upOpts []upstreampolicy.Option
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
