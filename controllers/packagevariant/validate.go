// Validating the spec.
//
// validate checks what the API server cannot: the constraint's syntax,
// that both Repositories exist and are Ready, and that injected ConfigMaps
// exist. It stalls the variant on bad input a person must fix and waits on
// a Repository Porch is still listing; reading releases is resolve's job.

package packagevariant

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
	"github.com/forkline/forkline/internal/status"
)

// validate checks what the API server cannot: the constraint's syntax,
// that the repositories exist and are Ready, and that injected ConfigMaps
// exist. Stalled (InvalidSpec, RepositoryNotFound, InjectedObjectNotFound)
// until a person fixes it; Progressing while Porch lists a Repository.
func (r *Reconciler) validate(ctx context.Context, s *scope) (ctrl.Result, error) {
	track, err := trackFor(s.pv)
	if err != nil {
		stall(s, "InvalidSpec", err.Error())
		return ctrl.Result{}, nil
	}
	s.track = track
	if a := s.pv.Spec.Approval; a != nil && a.HealthCheck != nil && a.HealthCheck.Namespace != "" && a.HealthCheck.Namespace != s.pv.Namespace {
		// Read nothing of it, not even whether it exists.
		stall(s, "InvalidSpec", fmt.Sprintf("spec.approval.healthCheck names namespace %q: forkline reads nothing outside the variant's namespace %q; name an object in it, or leave namespace out",
			a.HealthCheck.Namespace, s.pv.Namespace))
		return ctrl.Result{}, nil
	}
	if msg := badMetadata(s.pv.Spec.Labels, s.pv.Spec.Annotations); msg != "" {
		stall(s, "InvalidSpec", msg)
		return ctrl.Result{}, nil
	}
	var registered []*configapi.Repository
	for _, repo := range []string{s.pv.Spec.Upstream.Repo, s.pv.Spec.Downstream.Repo} {
		var r0 configapi.Repository
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: s.pv.Namespace, Name: repo}, &r0); err != nil {
			if apierrors.IsNotFound(err) {
				stall(s, "RepositoryNotFound", fmt.Sprintf("Porch Repository %q does not exist in namespace %q; register it (kubectl get repositories)", repo, s.pv.Namespace))
				return ctrl.Result{}, nil // its registration wakes the variant
			}
			return ctrl.Result{}, fmt.Errorf("reading Repository %q: %w", repo, err)
		}
		if repo == s.pv.Spec.Upstream.Repo {
			s.upstreamRepo = r0.DeepCopy()
		}
		if repo == s.pv.Spec.Downstream.Repo {
			s.downstreamRepo = r0.DeepCopy()
		}
		registered = append(registered, r0.DeepCopy())
		if msg := porch.Unspoken(&r0); msg != "" {
			stall(s, porch.ReasonUnsupported, msg)
			return ctrl.Result{}, nil // a change of the Repository wakes the variant
		}
		// A Repository Porch is still (re)listing shows no revisions:
		// acting on that would take a re-registered fork for a new one.
		if !r.repos.Serving(&r0) {
			said := porch.NotReadyMessage(&r0)
			if status.GitTrouble(said) {
				// Porch v1.4+ says a git outage on the Repository itself.
				res := status.Result{Outcome: status.Unavailable, Reason: "GitUnavailable",
					Message: fmt.Sprintf("a git repository Porch reads or pushes to is unavailable; retrying with backoff: Porch reports a failed sync in Porch Repository %q: %s", repo, said)}
				if prev := meta.FindStatusCondition(s.before, v1.ConditionReady); prev != nil {
					res = status.Since(res, prev.Reason, prev.Message, s.now)
				} else {
					res = status.Since(res, "", "", s.now)
				}
				s.end(res.Outcome, res.Reason, res.Message)
				return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
			}
			if said != "" {
				said = " (Porch says: " + said + ")"
			}
			s.end(status.Progressing, "RepositoryNotReady", fmt.Sprintf("Porch Repository %q is not Ready yet%s; waiting for Porch to list its packages", repo, said))
			return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
		}
	}
	if up, down := registered[0], registered[1]; up.Name != down.Name && sameGitPackage(up, down) && s.pv.Spec.DownstreamPackage() == s.pv.Spec.Upstream.Package {
		// The API compares the Repositories' names only.
		stall(s, "InvalidSpec", fmt.Sprintf("upstream Repository %q and downstream Repository %q are the same git repository, branch and directory (%s, branch %s), and the package path is the same: forkline would propose into the package it follows; set downstream.package or another downstream Repository",
			up.Name, down.Name, up.Spec.Git.Repo, up.Spec.Git.Branch))
		return ctrl.Result{}, nil
	}
	for i, in := range s.pv.Spec.Injectors {
		if in.Group != "" {
			// A kind the cluster does not serve can never be injected:
			// say so now rather than propose without it.
			gk := schema.GroupKind{Group: in.Group, Kind: in.Kind}
			if _, err := r.mapper.RESTMapping(gk, in.Version); meta.IsNoMatchError(err) {
				stall(s, "InvalidSpec", fmt.Sprintf("spec.injectors[%d] names kind %s of %s/%s, which the cluster does not serve; fix the group, version or kind, or install its CRD", i, in.Kind, in.Group, in.Version))
				return ctrl.Result{}, nil
			} else if err != nil {
				return ctrl.Result{}, fmt.Errorf("looking up spec.injectors[%d]'s kind %s: %w", i, gk, err)
			}
			continue // custom kinds are read when injected
		}
		cm := &corev1.ConfigMap{}
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: s.pv.Namespace, Name: in.Name}, cm); err != nil {
			if apierrors.IsNotFound(err) {
				stall(s, "InjectedObjectNotFound", fmt.Sprintf("spec.injectors[%d] names ConfigMap %q, which does not exist in namespace %q; create it or remove the injector", i, in.Name, s.pv.Namespace))
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, fmt.Errorf("reading ConfigMap %q: %w", in.Name, err)
		}
	}
	return ctrl.Result{}, nil
}

// badMetadata says what Porch would refuse of the labels and annotations
// forkline sets on the downstream revisions, checked as the API server
// checks them (a map's keys are beyond what the CRD's schema validates
// within its cost budget); "" when all is well.
func badMetadata(labels, annotations map[string]string) string {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Sprintf("spec.labels key %q is not a label key: %s; Porch would refuse the draft's labels", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			return fmt.Sprintf("spec.labels[%s] = %q is not a label value: %s; Porch would refuse the draft's labels", k, trim(labels[k], 80), strings.Join(errs, "; "))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Sprintf("spec.annotations key %q is not an annotation key: %s; Porch would refuse the draft's annotations", k, strings.Join(errs, "; "))
		}
	}
	return ""
}

// sameGitPackage says whether two Porch Repositories name one git
// repository, branch and directory (a URL's ".git" and trailing "/"
// aside).
func sameGitPackage(a, b *configapi.Repository) bool {
	if a.Spec.Git == nil || b.Spec.Git == nil {
		return false
	}
	dir := func(d string) string { return strings.Trim(d, "/") }
	branch := func(b string) string { return cmp.Or(b, "main") } // Porch's default
	return normalGitURL(a.Spec.Git.Repo) == normalGitURL(b.Spec.Git.Repo) && branch(a.Spec.Git.Branch) == branch(b.Spec.Git.Branch) && dir(a.Spec.Git.Directory) == dir(b.Spec.Git.Directory)
}

// trackFor reads the variant's track, validating its constraint.
func trackFor(pv *v1.PackageVariant) (release.Track, error) {
	up := pv.Spec.Upstream
	t := release.Track{
		Skip:        append(slices.Clone(up.Skip), pv.Status.Skipped...),
		Versions:    up.Versions,
		Revision:    up.Revision,
		Prereleases: up.Prereleases,
		Order:       release.Order(up.EffectiveOrder()),
	}
	if a := pv.Spec.Approval; a != nil && a.MinimumReleaseAge != nil {
		t.MinimumAge = a.MinimumReleaseAge.Duration
	}
	if p := pv.Spec.Pin; p != nil {
		t.Pin = &release.Pin{Revision: p.Revision}
		if p.Until != nil {
			t.Pin.Until = p.Until.Time
		}
	}
	if t.Versions != "" {
		if _, err := release.ParseConstraint(t.Versions); err != nil {
			return t, err
		}
	}
	return t, nil
}
