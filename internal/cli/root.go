// Package cli is kubectl-forkline, the kubectl plugin people review and
// operate forkline with: what a proposal changes and why, its conflicts
// and their resolution, approval, and the day-2 actions that are otherwise
// annotations and spec edits typed from the docs. It holds no rights of
// its own: every read and write is the caller's, through their kubeconfig,
// as kubectl and porchctl would make it.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
)

// Version is the plugin's version, set at build time (-ldflags -X).
var Version = "dev"

// options are the flags every verb shares.
type options struct {
	genericiooptions.IOStreams
	config        *genericclioptions.ConfigFlags
	allNamespaces bool
	output        string

	// newClient is how verbs reach the cluster; tests may replace it.
	newClient func() (client.Client, error)
	now       func() time.Time
}

// NewCommand is `kubectl forkline`.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{IOStreams: streams, config: genericclioptions.NewConfigFlags(true), now: time.Now}
	o.newClient = o.client
	root := &cobra.Command{
		Use:   "kubectl-forkline",
		Short: "Review and operate forkline's PackageVariants and UpstreamPolicies",
		Long: `kubectl forkline shows what forkline proposes and why, resolves its conflicts and
approves its proposals, and holds, retries, pins, skips and suspends variants.
It acts with your own credentials only: what it does, you could do with kubectl and porchctl.
convert prints the forkline objects that keep the intent of Porch's own PackageVariants.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl forkline"},
	}
	o.config.AddFlags(root.PersistentFlags())
	root.PersistentFlags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "across all namespaces (get)")
	root.PersistentFlags().StringVarP(&o.output, "output", "o", "table", "output format: table, yaml or json")
	root.AddCommand(
		o.getCommand(), o.treeCommand(), o.diffCommand(),
		o.conflictsCommand(), o.resolveCommand(), o.approveCommand(),
		o.holdCommand(), o.unholdCommand(), o.retryCommand(), o.reconcileCommand(),
		o.pinCommand(), o.skipCommand(), o.suspendCommand(true), o.suspendCommand(false),
		o.eventsCommand(), o.convertCommand(), o.versionCommand(),
	)
	return root
}

// Scheme holds every kind the plugin reads.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{v1.AddToScheme, porchv1alpha1.AddToScheme, corev1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

func (o *options) client() (client.Client, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "kubectl-forkline/" + Version
	porch.Speak(cfg)
	return client.New(cfg, client.Options{Scheme: Scheme()})
}

// namespace is -n, else the kubeconfig context's namespace.
func (o *options) namespace() string {
	ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}

// variant reads the named PackageVariant of the current namespace.
func (o *options) variant(ctx context.Context, c client.Client, name string) (*v1.PackageVariant, error) {
	pv := &v1.PackageVariant{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.namespace(), Name: name}, pv); err != nil {
		return nil, fmt.Errorf("packagevariant %s/%s: %w", o.namespace(), name, err)
	}
	return pv, nil
}

// printStructured prints v as -o yaml or json; false for table output.
func (o *options) printStructured(v any) (bool, error) {
	switch o.output {
	case "", "table", "wide":
		return false, nil
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, err
		}
		_, err = fmt.Fprintln(o.Out, string(b))
		return true, err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = o.Out.Write(b)
		return true, err
	}
	return true, fmt.Errorf("unknown output format %q: use table, yaml or json", o.output)
}

// age is kubectl's way of saying how long ago t was.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

func or(s, dflt string) string {
	if strings.TrimSpace(s) == "" {
		return dflt
	}
	return s
}

func say(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}

// completeVariants completes a VARIANT argument with the variants of the
// namespace, as kubectl completes resource names.
func (o *options) completeVariants(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := o.newClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var list v1.PackageVariantList
	if err := c.List(cmd.Context(), &list, client.InNamespace(o.namespace())); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	names := make([]string, 0, len(list.Items))
	for _, pv := range list.Items {
		names = append(names, pv.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
