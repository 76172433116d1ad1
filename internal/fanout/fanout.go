// Package fanout turns an UpstreamPolicy into the PackageVariants it wants:
// one per downstream branch its targets name, with stable names and the
// policy's template (a target's template overriding it field by field).
// It is pure: the caller passes the Repositories and objects it selected.
package fanout

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/release"
)

// PolicyLabel marks the variants a policy generated.
const PolicyLabel = "forkline.dev/upstream-policy"

// SourceAnnotation on a generated variant names the object an objectSelector
// target made it from (Kind/name), so a problem with that object, such as a
// missing field, keeps the variant rather than deleting it.
const SourceAnnotation = "forkline.dev/source"

// Repository is what the expansion needs of a Porch Repository.
type Repository struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
}

// Inputs are the objects the policy's selectors matched, by target index.
type Inputs struct {
	Repositories map[string]bool      // names of existing Repositories
	Selected     map[int][]Repository // repositorySelector matches
	Objects      map[int][]unstructured.Unstructured
}

// Variant is one PackageVariant the policy wants.
type Variant struct {
	Name   string
	Spec   v1.PackageVariantSpec
	Target int    // index of the target that produced it
	Source string // Kind/name of the object it came from, for objectSelector targets
}

// Problem is a target (or one of its entries) that produced no variant.
type Problem struct {
	Target  int
	Repo    string
	Package string
	Track   string
	Message string
	// Variant is the name of the variant the target would have made, when
	// known; Source the object it reads, for objectSelector targets.
	Variant string
	Source  string
}

// Expand computes the desired variants, in target order, and the problems;
// one bad target never stops the others.
func Expand(p *v1.UpstreamPolicy, in Inputs) ([]Variant, []Problem) {
	var out []Variant
	var problems []Problem
	byName := map[string]int{}
	variantName := func(repo, pkg string) string {
		if repo == "" {
			return ""
		}
		if pkg == "" {
			pkg = p.Spec.Upstream.Package
		}
		return Name(p.Name, repo, pkg)
	}
	add := func(ti int, repo, pkg string, track v1.ReleaseTrack, tmpl *v1.PackageVariantTemplate, source string) {
		trackText := track.Versions
		if trackText == "" {
			trackText = track.Revision
		}
		problem := func(msg string) {
			problems = append(problems, Problem{Target: ti, Repo: repo, Package: pkg, Track: trackText, Message: msg, Variant: variantName(repo, pkg), Source: source})
		}
		if track.Versions != "" {
			if _, err := release.ParseConstraint(track.Versions); err != nil {
				problem(err.Error())
				return
			}
		}
		if track.Versions == "" && track.Revision == "" {
			problem("no track: set versions (or revision)")
			return
		}
		if in.Repositories != nil && !in.Repositories[repo] {
			problem(fmt.Sprintf("Porch Repository %q does not exist in namespace %q", repo, p.Namespace))
			return
		}
		downstreamPkg := pkg
		if downstreamPkg == "" {
			downstreamPkg = p.Spec.Upstream.Package
		}
		name := Name(p.Name, repo, downstreamPkg)
		if first, dup := byName[name]; dup {
			problem(fmt.Sprintf("overlaps target %d: both name repository %q, package %q; the first target wins", first, repo, downstreamPkg))
			return
		}
		byName[name] = ti
		spec := v1.PackageVariantSpec{
			Upstream:               v1.Upstream{PackageRef: p.Spec.Upstream.PackageRef, ReleaseTrack: track, UpstreamTrust: p.Spec.Upstream.UpstreamTrust},
			Downstream:             v1.Downstream{Repo: repo, Package: pkg},
			PackageVariantTemplate: Merge(p.Spec.Template, tmpl),
		}
		if p.Spec.Suspend {
			spec.Suspend = true
		}
		out = append(out, Variant{Name: name, Spec: spec, Target: ti, Source: source})
	}

	for ti, t := range p.Spec.Targets {
		switch {
		case len(t.Repositories) > 0:
			for _, r := range t.Repositories {
				add(ti, r.Repo, r.Package, r.ReleaseTrack, t.Template, "")
			}
		case t.RepositorySelector != nil:
			sel := t.RepositorySelector
			for _, r := range in.Selected[ti] {
				if sel.Revision != "" {
					add(ti, r.Name, sel.Package, v1.ReleaseTrack{Revision: sel.Revision}, t.Template, "")
					continue
				}
				versions := r.Annotations[sel.EffectiveVersionsAnnotation()]
				if versions == "" {
					problems = append(problems, Problem{Target: ti, Repo: r.Name, Package: sel.Package, Variant: variantName(r.Name, sel.Package),
						Message: fmt.Sprintf("Repository %q is selected but has no %s annotation naming its track", r.Name, sel.EffectiveVersionsAnnotation())})
					continue
				}
				add(ti, r.Name, sel.Package, v1.ReleaseTrack{Versions: versions, Prereleases: sel.Prereleases, Order: sel.Order}, t.Template, "")
			}
		case t.ObjectSelector != nil:
			sel := t.ObjectSelector
			for _, o := range in.Objects[ti] {
				repo := fieldString(o, sel.RepoField)
				versions := fieldString(o, sel.VersionsField)
				pkg := ""
				if sel.PackageField != "" {
					pkg = fieldString(o, sel.PackageField)
				}
				source := o.GetKind() + "/" + o.GetName()
				track := v1.ReleaseTrack{Versions: versions, Revision: sel.Revision}
				if sel.Revision != "" {
					track.Versions = ""
				}
				if repo == "" || (track.Versions == "" && track.Revision == "") {
					fields := sel.RepoField
					if sel.Revision == "" {
						fields += " or " + sel.VersionsField
					}
					problems = append(problems, Problem{Target: ti, Repo: repo, Package: pkg, Variant: variantName(repo, pkg), Source: source,
						Message: fmt.Sprintf("%s %q lacks %s", o.GetKind(), o.GetName(), fields)})
					continue
				}
				add(ti, repo, pkg, track, t.Template, source)
			}
		}
	}
	return out, problems
}

// Retain decides which of the policy's existing variants that no desired
// variant names stay, and why. A variant goes only when its target left
// the spec or its Repository stopped matching the selector; a target with
// a problem (a typo in a track, a missing field, a Repository deleted or
// being re-created) keeps its variant, and a suspended policy deletes
// nothing. Deleting a variant applies its deletion policy; deleting it for
// a typo would tear a branch down.
func Retain(p *v1.UpstreamPolicy, in Inputs, problems []Problem, orphans []v1.PackageVariant) map[string]string {
	kept := map[string]string{}
	for i := range orphans {
		pv := &orphans[i]
		switch {
		case p.Spec.Suspend:
			kept[pv.Name] = "the policy is suspended: nothing is deleted"
		case in.Repositories != nil && !in.Repositories[pv.Spec.Downstream.Repo]:
			kept[pv.Name] = fmt.Sprintf("Porch Repository %q is missing (deleted, or being re-created); the variant stays until its target is removed", pv.Spec.Downstream.Repo)
		default:
			for _, pr := range problems {
				if pr.Variant == pv.Name || (pr.Source != "" && pr.Source == pv.Annotations[SourceAnnotation]) {
					kept[pv.Name] = fmt.Sprintf("target %d: %s; the variant keeps its last good spec until this is fixed", pr.Target, pr.Message)
					break
				}
			}
		}
	}
	return kept
}

func fieldString(o unstructured.Unstructured, path string) string {
	v, found, err := unstructured.NestedString(o.Object, strings.Split(path, ".")...)
	if err != nil || !found {
		return ""
	}
	return v
}

var invalidName = regexp.MustCompile(`[^a-z0-9-]+`)

// Name is the generated variant's stable name, <policy>-<repo>-<package>,
// shortened with a hash of the whole past 63 characters.
func Name(policy, repo, pkg string) string {
	full := strings.Trim(invalidName.ReplaceAllString(strings.ToLower(policy+"-"+repo+"-"+pkg), "-"), "-")
	if len(full) <= 63 {
		return full
	}
	sum := sha256.Sum256([]byte(policy + "/" + repo + "/" + pkg))
	return strings.TrimRight(full[:54], "-") + "-" + hex.EncodeToString(sum[:])[:8]
}

// Merge overlays a target's template on the policy's, field by field.
func Merge(base, over *v1.PackageVariantTemplate) v1.PackageVariantTemplate {
	var out v1.PackageVariantTemplate
	if base != nil {
		out = *base.DeepCopy()
	}
	if over == nil {
		return out
	}
	o := over.DeepCopy()
	if o.Pin != nil {
		out.Pin = o.Pin
	}
	if o.Pipeline != nil {
		out.Pipeline = o.Pipeline
	}
	if o.Injectors != nil {
		out.Injectors = o.Injectors
	}
	if o.PackageContext != nil {
		out.PackageContext = o.PackageContext
	}
	if o.Labels != nil {
		out.Labels = o.Labels
	}
	if o.Annotations != nil {
		out.Annotations = o.Annotations
	}
	if o.AdoptionPolicy != "" {
		out.AdoptionPolicy = o.AdoptionPolicy
	}
	if o.DeletionPolicy != "" {
		out.DeletionPolicy = o.DeletionPolicy
	}
	if o.Merge != nil {
		out.Merge = o.Merge
	}
	if o.Approval != nil {
		out.Approval = o.Approval
	}
	if o.Suspend {
		out.Suspend = true
	}
	return out
}
