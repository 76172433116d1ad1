package packagevariant

import (
	"context"
	"fmt"
	"path"
	"strings"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/inject"
	"github.com/forkline/forkline/internal/porch"
)

// renderFailed prefixes the recorded render summary of a draft whose
// pipeline failed.
const renderFailed = "Failed: "

// renderSummary is what a person needs of Porch's render of a draft: that
// it failed and why, or the validators' and mutators' findings counted by
// severity with the first few.
func renderSummary(rs porchv1alpha1.RenderStatus) string {
	if rs.Err != "" {
		return renderFailed + firstLine(rs.Err)
	}
	counts := map[string]int{}
	var first []string
	for _, fn := range rs.Result.Items {
		if fn == nil {
			continue
		}
		for _, item := range fn.Results {
			sev := item.Severity
			if sev == "" {
				sev = "info"
			}
			counts[sev]++
			if sev != "info" && len(first) < 3 {
				first = append(first, fmt.Sprintf("%s: %s", path.Base(fn.Image+fn.ExecPath), firstLine(item.Message)))
			}
		}
	}
	var parts []string
	for _, sev := range []string{"error", "warning", "info"} {
		if n := counts[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s(s)", n, sev))
		}
	}
	if len(parts) == 0 {
		return "OK"
	}
	out := "OK: " + strings.Join(parts, ", ")
	if len(first) > 0 {
		out += "; " + strings.Join(first, "; ")
	}
	return out
}

// checkRender stops a draft whose pipeline failed to render, or whose
// content is malformed (a resource defined twice), before it is proposed
// (Failed).
func (r *Reconciler) checkRender(ctx context.Context, s *scope) (ctrl.Result, error) {
	var problem error
	var rendered porchv1alpha1.RenderStatus
	if s.prr != nil {
		problem, rendered = porch.Diagnose(s.prr.Spec.Resources), s.prr.Status.RenderStatus
	} else {
		// An unread clone holds the target's resources: diagnosed once
		// per release, not once per branch it fans out to.
		name := s.selection.Target.Name
		key := s.pv.Namespace + "/" + name + "@" + r.commitOf(s, name)
		if known, ok := r.diagnosed.Get(key); ok && r.commitOf(s, name) != "" {
			problem, _ = known.(error)
		} else {
			up, err := r.upstreamResources(ctx, s, name)
			if err != nil {
				return ctrl.Result{}, err
			}
			problem = porch.Diagnose(up)
			r.diagnosed.Add(key, problem)
		}
	}
	if problem != nil {
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("draft %s is malformed: %v; fix the upstream package (or the draft) so it can be proposed", s.draft.Name, problem))
		s.done = true
		return ctrl.Result{RequeueAfter: conflictPoll}, nil
	}
	sync := s.pv.Status.Sync
	// Porch reports a render on the write that caused it (a later read has
	// none): the record stands while the draft holds what forkline wrote.
	summary := renderSummary(rendered)
	if summary == "OK" && sync.Commit == s.draft.ResourceVersion && sync.RenderStatus != "" {
		summary = sync.RenderStatus
	}
	sync.RenderStatus = summary
	if why, failed := strings.CutPrefix(summary, renderFailed); failed {
		setPhase(s, v1.PhaseFailed, "rendering the draft's pipeline failed: "+why+"; fix the failing function in the pipeline, then forkline renders the next write again")
		s.done = true
		return ctrl.Result{RequeueAfter: conflictPoll}, nil
	}
	return ctrl.Result{}, nil
}

// checkGates keeps a draft whose required config is unfilled from being
// proposed (Failed, NoResourceSelected), as Porch's PackageVariant does:
// its injection points' readiness gates stay False in the draft, porchctl
// would refuse to propose or approve it, and the status names each point
// and what fills it. The injectors or the objects they name changing
// wakes the variant.
func (r *Reconciler) checkGates(_ context.Context, s *scope) (ctrl.Result, error) {
	if s.prr == nil {
		return ctrl.Result{}, nil // Porch's clone of a package with no injection point
	}
	kf, err := porch.ParseKptfile(s.prr.Spec.Resources[porch.KptfileName])
	if err != nil {
		return ctrl.Result{}, nil // checkRender has said so
	}
	var unfilled []string
	for _, g := range kf.UnmetGates() {
		point, ok := strings.CutPrefix(g.Type, inject.ConditionPrefix)
		if !ok {
			continue
		}
		kind, name, _ := strings.Cut(point, ".")
		unfilled = append(unfilled, fmt.Sprintf("%s %q (%s: %s)", kind, name, g.Reason, g.Message))
	}
	if len(unfilled) == 0 {
		return ctrl.Result{}, nil
	}
	setPhase(s, v1.PhaseFailed, fmt.Sprintf("draft %s is not proposed: required injection point(s) not filled: %s; add an injector (spec.injectors) naming an object of that kind in namespace %s that fills it. Until then the draft's readiness gate stays False, as Porch's PackageVariant leaves it, and porchctl refuses to propose it",
		s.draft.Name, strings.Join(unfilled, ", "), s.pv.Namespace))
	s.result.Reason = inject.ReasonNotSelected
	s.done = true
	return ctrl.Result{}, nil
}
