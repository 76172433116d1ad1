package packagevariant

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/inject"
	"github.com/forkline/forkline/internal/porch"
)

// hasMutations says whether the variant changes packages beyond the merge.
// (A package's own injection points are filled, or gated, whatever the
// variant says: inject.HasPoints.)
func hasMutations(pv *v1.PackageVariant) bool {
	return pv.Spec.Pipeline != nil || len(pv.Spec.Injectors) > 0 || pv.Spec.PackageContext != nil
}

// mutate applies the variant's own settings to a package, in Porch's order:
// package context, pipeline steps, config injection (with a condition per
// injection point, required ones as readiness gates). It edits resources
// in place.
func (r *Reconciler) mutate(ctx context.Context, pv *v1.PackageVariant, resources map[string]string) error {
	if pc := pv.Spec.PackageContext; pc != nil {
		if err := porch.SetPackageContext(resources, pc.Data, pc.RemoveKeys); err != nil {
			return err
		}
	}
	kf, err := porch.ParseKptfile(resources[porch.KptfileName])
	if err != nil {
		return err
	}
	if err := applySteps(pv, kf); err != nil {
		return err
	}
	// Every injection point gets its condition, filled or not: Porch's
	// PackageVariant gates a required point also when the variant has no
	// injectors.
	points, err := inject.Apply(resources, pv.Spec.Injectors, r.lookup(ctx, pv.Namespace))
	if err != nil {
		return err
	}
	for _, p := range points {
		set := kf.SetCondition
		if p.Required {
			set = kf.SetGate
		}
		if err := set(p.ConditionType(), p.Injected != "", p.Reason(), p.Message); err != nil {
			return err
		}
	}
	content, err := kf.String()
	if err != nil {
		return err
	}
	resources[porch.KptfileName] = content
	return nil
}

// lookup reads objects to inject from the manager's cache: ConfigMaps are
// watched; other kinds are read when the variant reconciles.
func (r *Reconciler) lookup(ctx context.Context, ns string) inject.Lookup {
	return func(apiVersion, kind, name string) (*inject.Object, error) {
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion(apiVersion)
		obj.SetKind(kind)
		var field any
		if apiVersion == "v1" && kind == "ConfigMap" {
			cm := &corev1.ConfigMap{}
			if err := r.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
				return nil, client.IgnoreNotFound(err)
			}
			field = cm.Data
		} else {
			if err := r.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
				if apierrors.IsNotFound(err) {
					return nil, nil
				}
				return nil, err
			}
			field = obj.Object["spec"]
		}
		b, err := sigsyaml.Marshal(field)
		if err != nil {
			return nil, err
		}
		n, err := yaml.Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("reading %s %q: %w", kind, name, err)
		}
		return &inject.Object{Name: name, Field: n}, nil
	}
}

// indexInjector keys variants by the ConfigMaps their injectors may name.
const indexInjector = "forkline.injector"

func injectorKeys(pv *v1.PackageVariant) []string {
	var keys []string
	for _, in := range pv.Spec.Injectors {
		if (in.Kind == "" || in.Kind == "ConfigMap") && (in.Group == "") {
			keys = append(keys, in.Name)
		}
	}
	return keys
}

// variantsInjecting maps a ConfigMap event to the variants that inject it.
func (r *Reconciler) variantsInjecting(ctx context.Context, o client.Object) []reconcile.Request {
	return r.variantsListed(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexInjector: o.GetName()})
}

// sameResources compares two packages file by file.
func sameResources(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || strings.TrimSpace(bv) != strings.TrimSpace(v) {
			return false
		}
	}
	return true
}

func copyResources(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
