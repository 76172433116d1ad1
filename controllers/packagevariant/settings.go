// Applying the variant's settings.
//
// applySettings writes the variant's steps, package context and injected
// config into a draft no person touched and that has no open conflict.
// How each setting is applied is in mutate.go; whether the result renders
// is checkRender's call.

package packagevariant

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/inject"
	"github.com/forkline/forkline/internal/porch"
)

// applySettings applies the variant's steps, package context and injected
// config to a draft no person has touched (Rendering).
func (r *Reconciler) applySettings(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv, prr := s.pv, s.prr
	if prr == nil {
		// readDraft left Porch's clone unread: nothing to apply.
		return ctrl.Result{}, nil
	}
	if (!hasMutations(pv) && !inject.HasPoints(prr.Spec.Resources)) || s.edited || s.rollback {
		return ctrl.Result{}, nil
	}
	if _, conflicted := prr.Spec.Resources[porch.ConflictsFile]; conflicted {
		return ctrl.Result{}, nil
	}
	wanted := copyResources(prr.Spec.Resources)
	if err := r.mutate(ctx, pv, wanted); err != nil {
		stall(s, "MutationFailed", err.Error())
		return ctrl.Result{}, nil
	}
	if sameResources(wanted, prr.Spec.Resources) {
		return ctrl.Result{}, nil
	}
	prr.Spec.Resources = wanted
	if err := r.write(ctx, s, prr); err != nil {
		return ctrl.Result{}, err
	}
	setPhase(s, v1.PhaseRendering, "applied the variant's steps and injected config; rendering")
	return ctrl.Result{}, nil
}

// applySteps puts the variant's pipeline into the Kptfile, named
// forkline.<variant>.<function>.<index>.
func applySteps(pv *v1.PackageVariant, kf *porch.Kptfile) error {
	var mutators, validators []*yaml.RNode
	if p := pv.Spec.Pipeline; p != nil {
		for _, list := range []struct {
			fns []v1.Function
			out *[]*yaml.RNode
		}{{p.Mutators, &mutators}, {p.Validators, &validators}} {
			for i, fn := range list.fns {
				fn.Name = fmt.Sprintf("forkline.%s.%s.%d", pv.Name, fn.FunctionName(), i)
				// JSON field names, as the Kptfile has them (configMap, not configmap).
				b, err := sigsyaml.Marshal(fn)
				if err != nil {
					return err
				}
				n, err := yaml.Parse(string(b))
				if err != nil {
					return err
				}
				*list.out = append(*list.out, n)
			}
		}
	}
	last := pv.Spec.Pipeline != nil && pv.Spec.Pipeline.Position == v1.PipelineLast
	return kf.SetPipeline(pv.Name, mutators, validators, last)
}
