// Command porch-variant-controllers runs Porch's own PackageVariant and
// PackageVariantSet controllers, from the Porch module the stack pins, so
// the e2e suite compares forkline with them and hands their revisions over.
// Porch's controllers binary binds its health probe on every interface at
// :8081; this one binds nothing, as the stack's servers bind loopback only.
package main

import (
	"flag"
	"fmt"
	"os"

	porchapi "github.com/nephio-project/porch/api/porch/v1alpha1"
	"github.com/nephio-project/porch/controllers/packagevariants/pkg/controllers/packagevariant"
	"github.com/nephio-project/porch/controllers/packagevariantsets/pkg/controllers/packagevariantset"
	"github.com/nephio-project/porch/pkg/controllerrestmapper"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// reconciler is what Porch's controllers main asks of each of its own.
type reconciler interface {
	InitDefaults()
	BindFlags(prefix string, flags *flag.FlagSet)
	SetupWithManager(ctrl.Manager) error
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	reconcilers := map[string]reconciler{
		"packagevariants":    &packagevariant.PackageVariantReconciler{},
		"packagevariantsets": &packagevariantset.PackageVariantSetReconciler{},
	}
	for name, r := range reconcilers {
		r.InitDefaults()
		r.BindFlags(name+".", flag.CommandLine)
	}
	klog.InitFlags(nil)
	flag.Parse()
	ctrl.SetLogger(textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(2), textlogger.Output(os.Stdout))))

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := porchapi.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		MapperProvider:         controllerrestmapper.New,
		Client: client.Options{Cache: &client.CacheOptions{
			DisableFor: []client.Object{&porchapi.PackageRevisionResources{}},
		}},
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	for name, r := range reconcilers {
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up %s: %w", name, err)
		}
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
