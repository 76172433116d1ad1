// Package convert turns Porch's PackageVariant and PackageVariantSet into
// forkline's PackageVariant and UpstreamPolicy with the same intent, and
// names every field forkline has no equivalent for instead of dropping it
// (docs/migrating.md has the table).
package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// porchGroup is the API group of Porch's variant controllers.
const porchGroup = "config.porch.kpt.dev"

// Converted is the forkline object made from one Porch object.
type Converted struct {
	// From names the Porch object: "PackageVariant ns/name".
	From string
	// Object is a *v1.PackageVariant or a *v1.UpstreamPolicy.
	Object client.Object
	// Lost are the Porch fields forkline has no equivalent for, each with
	// its path and value and what to do instead.
	Lost []string
	// Differs are where forkline keeps the intent its own way.
	Differs []string
}

// Lookup names the upstream revision Porch finds by workspace as forkline
// names it ("v3", "v1.21.3"), or "" when it does not know it (no cluster).
type Lookup func(namespace, repo, pkg, workspace string) string

// Convert reads Porch objects (YAML or JSON, one or many documents, lists
// as kubectl prints them) and converts each.
func Convert(data []byte, lookup Lookup) ([]Converted, error) {
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true}).Read()
	if err != nil {
		return nil, fmt.Errorf("reading Porch objects: %w", err)
	}
	var out []Converted
	for _, n := range nodes {
		items := []*yaml.RNode{n}
		if strings.HasSuffix(n.GetKind(), "List") {
			list, err := n.Pipe(yaml.Lookup("items"))
			if err != nil {
				return nil, err
			}
			items = nil
			if list != nil {
				if items, err = list.Elements(); err != nil {
					return nil, err
				}
			}
		}
		for _, item := range items {
			c, err := convertOne(item, lookup)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func convertOne(n *yaml.RNode, lookup Lookup) (Converted, error) {
	apiVersion, kind := n.GetApiVersion(), n.GetKind()
	what := fmt.Sprintf("%s %s/%s", kind, n.GetNamespace(), n.GetName())
	raw, err := n.MarshalJSON()
	if err != nil {
		return Converted{}, err
	}
	switch {
	case apiVersion == porchGroup+"/v1alpha1" && kind == "PackageVariant":
		pv := &porchVariant{}
		if err := decodeStrict(raw, pv); err != nil {
			return Converted{}, fmt.Errorf("%s: %w", what, err)
		}
		return convertVariant(what, pv, lookup), nil
	case apiVersion == porchGroup+"/v1alpha2" && kind == "PackageVariantSet":
		pvs := &porchVariantSet{}
		if err := decodeStrict(raw, pvs); err != nil {
			return Converted{}, fmt.Errorf("%s: %w", what, err)
		}
		return convertSet(what, pvs, lookup), nil
	case apiVersion == porchGroup+"/v1alpha1" && kind == "PackageVariantSet":
		return Converted{}, fmt.Errorf("%s: a v1alpha1 PackageVariantSet; Porch serves it as v1alpha2 since v1.0 (kubectl get packagevariantsets.v1alpha2.config.porch.kpt.dev -o yaml), convert that", what)
	default:
		return Converted{}, fmt.Errorf("%s (%s): not a Porch PackageVariant or PackageVariantSet", what, apiVersion)
	}
}

func decodeStrict(raw []byte, into any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(into)
}

// note collects what a conversion loses and where it differs.
type note struct{ lost, differs []string }

func (n *note) lose(format string, args ...any) {
	n.lost = append(n.lost, fmt.Sprintf(format, args...))
}
func (n *note) differ(format string, args ...any) {
	n.differs = append(n.differs, fmt.Sprintf(format, args...))
}

func convertVariant(what string, p *porchVariant, lookup Lookup) Converted {
	var n note
	pv := &v1.PackageVariant{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "PackageVariant"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Metadata.Name, Namespace: p.Metadata.Namespace, Labels: p.Metadata.Labels, Annotations: kept(p.Metadata.Annotations)},
	}
	s := p.Spec
	if s.Upstream != nil {
		pv.Spec.Upstream.PackageRef = v1.PackageRef{Repo: s.Upstream.Repo, Package: s.Upstream.Package}
		pv.Spec.Upstream.ReleaseTrack = track(s.Upstream, p.Metadata.Namespace, "spec.upstream", lookup, &n)
	}
	if s.Downstream != nil {
		pv.Spec.Downstream = v1.Downstream{Repo: s.Downstream.Repo, Package: s.Downstream.Package}
		if s.Upstream != nil && s.Downstream.Package == s.Upstream.Package {
			pv.Spec.Downstream.Package = ""
		}
	}
	t := &pv.Spec.PackageVariantTemplate
	t.Labels, t.Annotations = s.Labels, s.Annotations
	t.AdoptionPolicy, t.DeletionPolicy = policies(s.AdoptionPolicy, s.DeletionPolicy)
	if c := s.PackageContext; c != nil {
		t.PackageContext = &v1.PackageContext{Data: c.Data, RemoveKeys: c.RemoveKeys}
	}
	if pl := s.Pipeline; pl != nil {
		t.Pipeline = &v1.Pipeline{
			Mutators:   functions(pl.Mutators, "spec.pipeline.mutators", &n),
			Validators: functions(pl.Validators, "spec.pipeline.validators", &n),
		}
	}
	for _, in := range s.Injectors {
		t.Injectors = append(t.Injectors, v1.Injector{Group: deref(in.Group), Version: deref(in.Version), Kind: deref(in.Kind), Name: in.Name})
	}
	proposes(&n)
	return Converted{From: what, Object: pv, Lost: n.lost, Differs: n.differs}
}

// kept drops the annotations kubectl and Porch keep for themselves.
func kept(annotations map[string]string) map[string]string {
	out := maps.Clone(annotations)
	delete(out, "kubectl.kubernetes.io/last-applied-configuration")
	if len(out) == 0 {
		return nil
	}
	return out
}

// track is the release track that keeps what Porch's upstream names.
func track(up *porchUpstream, namespace, at string, lookup Lookup, n *note) v1.ReleaseTrack {
	switch {
	case up.WorkspaceName != "":
		if _, err := semver.StrictNewVersion(strings.TrimPrefix(up.WorkspaceName, "v")); err == nil {
			// A release Porch lists from its semver tag.
			return v1.ReleaseTrack{Revision: up.WorkspaceName}
		}
		if lookup != nil {
			if name := lookup(namespace, up.Repo, up.Package, up.WorkspaceName); name != "" {
				n.differ("%s.workspaceName %q is upstream revision %s: forkline names revisions by number or release tag, not workspace", at, up.WorkspaceName, name)
				return v1.ReleaseTrack{Revision: name}
			}
		}
		n.lose("%s.workspaceName %q: forkline names upstream revisions by number or release tag, not workspace; set revision to the number Porch gave it (porchctl rpkg get -n %s shows it as vN), or convert against the cluster, which looks it up", at, up.WorkspaceName, namespace)
		return v1.ReleaseTrack{Revision: up.WorkspaceName}
	case up.Revision.name != "":
		if up.Revision.number {
			n.differ("%s.revision %s: Porch v1.4+'s variant ignores it (it finds the upstream by workspaceName, else follows the branch head); forkline follows %s as written", at, up.Revision.name, up.Revision.name)
		}
		return v1.ReleaseTrack{Revision: up.Revision.name}
	default:
		n.differ("%s names no revision: Porch's variant then follows the upstream branch's head (its placeholder revision); forkline follows released revisions only, here the newest semver release (versions \"*\", order Latest); set versions to a range to follow a line of releases", at)
		return v1.ReleaseTrack{Versions: "*", Order: v1.Latest}
	}
}

// policies are Porch's adoption and deletion policies, its defaults
// written out (forkline's are the same; written so the intent is seen).
func policies(adoption, deletion string) (v1.AdoptionPolicy, v1.DeletionPolicy) {
	a, d := v1.AdoptionPolicy(adoption), v1.DeletionPolicy(deletion)
	if a == "" {
		a = v1.AdoptNone
	}
	if d == "" {
		d = v1.DeletionDelete
	}
	return a, d
}

func functions(fns []porchFunction, at string, n *note) []v1.Function {
	var out []v1.Function
	for i, f := range fns {
		if f.Exec != "" {
			n.lose("%s[%d].exec %q: forkline runs functions as images only, through Porch's function runner; publish the executable as a function image", at, i, f.Exec)
			continue
		}
		out = append(out, v1.Function{Image: f.Image, Name: f.Name, ConfigMap: f.ConfigMap, ConfigPath: f.ConfigPath, Selectors: f.Selectors, Exclude: f.Exclude})
	}
	return out
}

// proposes is the one difference every converted variant has.
func proposes(n *note) {
	n.differ("forkline proposes the drafts it makes (Porch's variant leaves them Draft); a person still approves them (approval.mode Manual) unless you set Automatic")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func convertSet(what string, p *porchVariantSet, lookup Lookup) Converted {
	var n note
	policy := &v1.UpstreamPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "UpstreamPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Metadata.Name, Namespace: p.Metadata.Namespace, Labels: p.Metadata.Labels, Annotations: kept(p.Metadata.Annotations)},
	}
	var rev v1.ReleaseTrack
	if up := p.Spec.Upstream; up != nil {
		policy.Spec.Upstream.PackageRef = v1.PackageRef{Repo: up.Repo, Package: up.Package}
		rev = track(up, p.Metadata.Namespace, "spec.upstream", lookup, &n)
	}
	for i, pt := range p.Spec.Targets {
		at := fmt.Sprintf("spec.targets[%d]", i)
		t := v1.Target{}
		tmpl, literalPkg, pkgExpr, repoExpr := template(pt.Template, at+".template", &n)
		t.Template = tmpl
		downstreamPkg := func(upstreamPkg string) string {
			if literalPkg == upstreamPkg {
				return ""
			}
			return literalPkg
		}
		switch {
		case len(pt.Repositories) > 0:
			for _, r := range pt.Repositories {
				names := r.PackageNames
				if len(names) == 0 {
					names = []string{downstreamPkg(policy.Spec.Upstream.Package)}
				}
				for _, pkg := range names {
					if pkg == policy.Spec.Upstream.Package {
						pkg = ""
					}
					t.Repositories = append(t.Repositories, v1.RepositoryTarget{Repo: r.Name, Package: pkg, ReleaseTrack: rev})
				}
			}
			if pkgExpr != "" {
				n.lose("%s.template.downstream.packageExpr %q: forkline's explicit targets name each package; list them in packageNames", at, pkgExpr)
			}
		case pt.RepositorySelector != nil:
			sel := &v1.RepositorySelectorTarget{Selector: *pt.RepositorySelector, Package: downstreamPkg(policy.Spec.Upstream.Package)}
			selectorTrack(rev, &sel.Revision, at+".repositorySelector", &n)
			t.RepositorySelector = sel
			if pkgExpr != "" {
				n.lose("%s.template.downstream.packageExpr %q: a repository selector gives every selected repository one package; set template.downstream.package", at, pkgExpr)
			}
		case pt.ObjectSelector != nil:
			os := pt.ObjectSelector
			if os.Name != nil && len(os.MatchLabels) == 0 && len(os.MatchExpressions) == 0 {
				// An empty selector would select every object of the kind.
				n.lose("%s: objectSelector.name %q with no labels: forkline selects objects by label only, and an empty selector would select every %s; label the object and add a target selecting that label", at, *os.Name, os.Kind)
				continue
			}
			sel := &v1.ObjectSelectorTarget{APIVersion: os.APIVersion, Kind: os.Kind, Selector: os.LabelSelector}
			selectorTrack(rev, &sel.Revision, at+".objectSelector", &n)
			if os.Name != nil {
				n.lose("%s.objectSelector.name %q: forkline selects objects by label only, so every %s with these labels is a target, not only %q", at, *os.Name, os.Kind, *os.Name)
			}
			if field, ok := targetField(repoExpr); ok {
				sel.RepoField = field
			} else {
				n.lose("%s.template.downstream.repoExpr %q: forkline reads the repository from a field of the selected object (repoField); only expressions of the form target.<field path> convert", at, repoExpr)
			}
			if field, ok := targetField(pkgExpr); ok {
				sel.PackageField = field
			} else if pkgExpr != "" {
				n.lose("%s.template.downstream.packageExpr %q: forkline reads the package from a field of the selected object (packageField); only expressions of the form target.<field path> convert", at, pkgExpr)
			}
			if literalPkg != "" {
				n.lose("%s.template.downstream.package %q: an object selector reads the package from the object (packageField); put it in a field of the selected objects", at, literalPkg)
			}
			t.ObjectSelector = sel
		default:
			n.lose("%s: names no repositories and no selector; nothing to convert", at)
			continue
		}
		policy.Spec.Targets = append(policy.Spec.Targets, t)
	}
	proposes(&n)
	return Converted{From: what, Object: policy, Lost: n.lost, Differs: n.differs}
}

// selectorTrack gives a selector target the set's one revision; a range
// (the set named none) stays each branch's own, read from the Repository
// annotation or object field forkline reads tracks from.
func selectorTrack(rev v1.ReleaseTrack, into *string, at string, n *note) {
	if rev.Revision != "" {
		*into = rev.Revision
		return
	}
	n.differ("%s: with no upstream revision named, each selected branch names its semver range (the Repository's forkline.dev/versions annotation; for objects, set versionsField); versions \"*\" follows every release", at)
}

// targetField is the field path of a CEL expression that only reads a
// field of Porch's target object: target.spec.repo -> spec.repo.
func targetField(expr string) (string, bool) {
	expr = strings.TrimSpace(expr)
	if !fieldOfTarget.MatchString(expr) {
		return "", false
	}
	return strings.TrimPrefix(expr, "target."), true
}

var fieldOfTarget = regexp.MustCompile(`^target(\.[A-Za-z0-9_-]+)+$`)

// template converts a set's template; the downstream it names is the
// target's to apply.
func template(pt *porchTemplate, at string, n *note) (out *v1.PackageVariantTemplate, pkg, pkgExpr, repoExpr string) {
	if pt == nil {
		a, d := policies("", "")
		return &v1.PackageVariantTemplate{AdoptionPolicy: a, DeletionPolicy: d}, "", "", ""
	}
	out = &v1.PackageVariantTemplate{Labels: pt.Labels, Annotations: pt.Annotations}
	out.AdoptionPolicy, out.DeletionPolicy = policies(deref(pt.AdoptionPolicy), deref(pt.DeletionPolicy))
	if d := pt.Downstream; d != nil {
		pkg, pkgExpr, repoExpr = deref(d.Package), deref(d.PackageExpr), deref(d.RepoExpr)
		if d.Repo != nil {
			n.lose("%s.downstream.repo %q: each target names its repositories; a template does not override them", at, *d.Repo)
		}
	}
	exprs := func(field string, es []mapExpr) {
		for i, e := range es {
			if e.KeyExpr == nil && e.ValueExpr == nil {
				continue // a literal: withLiterals converts it
			}
			n.lose("%s.%s[%d] (%s): forkline does not evaluate CEL in templates; give each target's value in its own target template", at, field, i, exprText(e))
		}
	}
	exprs("labelExprs", pt.LabelExprs)
	out.Labels = withLiterals(out.Labels, pt.LabelExprs)
	exprs("annotationExprs", pt.AnnotationExprs)
	out.Annotations = withLiterals(out.Annotations, pt.AnnotationExprs)
	if c := pt.PackageContext; c != nil {
		out.PackageContext = &v1.PackageContext{Data: withLiterals(c.Data, c.DataExprs), RemoveKeys: c.RemoveKeys}
		exprs("packageContext.dataExprs", c.DataExprs)
		for i, e := range c.RemoveKeyExprs {
			n.lose("%s.packageContext.removeKeyExprs[%d] %q: forkline does not evaluate CEL in templates", at, i, e)
		}
	}
	if pl := pt.Pipeline; pl != nil {
		plain := func(fts []porchFunctionTemplate, field string) []porchFunction {
			var fns []porchFunction
			for i, f := range fts {
				if len(f.ConfigMapExprs) > 0 {
					exprs(fmt.Sprintf("pipeline.%s[%d].configMapExprs", field, i), f.ConfigMapExprs)
					f.ConfigMap = withLiterals(f.ConfigMap, f.ConfigMapExprs)
				}
				fns = append(fns, f.porchFunction)
			}
			return fns
		}
		out.Pipeline = &v1.Pipeline{
			Mutators:   functions(plain(pl.Mutators, "mutators"), at+".pipeline.mutators", n),
			Validators: functions(plain(pl.Validators, "validators"), at+".pipeline.validators", n),
		}
	}
	for i, in := range pt.Injectors {
		if in.NameExpr != nil {
			n.lose("%s.injectors[%d].nameExpr %q: forkline does not evaluate CEL in templates; name the injected object in each target's template", at, i, *in.NameExpr)
			continue
		}
		out.Injectors = append(out.Injectors, v1.Injector{Group: deref(in.Group), Version: deref(in.Version), Kind: deref(in.Kind), Name: deref(in.Name)})
	}
	return out, pkg, pkgExpr, repoExpr
}

// withLiterals adds the expressions that are plain key=value pairs.
func withLiterals(m map[string]string, es []mapExpr) map[string]string {
	for _, e := range es {
		if e.KeyExpr == nil && e.ValueExpr == nil && e.Key != nil {
			if m == nil {
				m = map[string]string{}
			}
			m[*e.Key] = deref(e.Value)
		}
	}
	return m
}

func exprText(e mapExpr) string {
	var parts []string
	for _, p := range []struct {
		name string
		v    *string
	}{{"key", e.Key}, {"value", e.Value}, {"keyExpr", e.KeyExpr}, {"valueExpr", e.ValueExpr}} {
		if p.v != nil {
			parts = append(parts, fmt.Sprintf("%s: %q", p.name, *p.v))
		}
	}
	return strings.Join(parts, ", ")
}

// Sorted orders conversions by what they were made from, for stable output.
func Sorted(cs []Converted) []Converted {
	return slices.SortedFunc(slices.Values(cs), func(a, b Converted) int { return strings.Compare(a.From, b.From) })
}
