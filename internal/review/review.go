// Package review tells what an upstream release changes that a person
// must see before it is published: a Kptfile pipeline function added,
// removed or changed, and any RBAC object, cluster-scoped object,
// admission webhook or policy, or CustomResourceDefinition added, removed
// or changed. Automatic approval waits for a person on these; a
// proposal's summary lists them.
package review

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// Class is a kind of change that needs a person, as
// approval.requirePersonFor names it.
type Class = v1.ChangeClass

// The classes; an object is reported under the first that applies, in the
// order rank gives (a ClusterRoleBinding is RBAC before it is
// cluster-scoped).
const (
	Pipeline      = v1.ChangePipeline
	CRDs          = v1.ChangeCRDs
	Webhooks      = v1.ChangeWebhooks
	RBAC          = v1.ChangeRBAC
	ClusterScoped = v1.ChangeClusterScoped
)

// Change is one change a person must see, e.g. "rbac: ClusterRoleBinding
// escalate added".
type Change struct {
	Class Class
	What  string
}

func (c Change) String() string { return c.What }

// Scope says whether a kind is cluster-scoped; known is false for a kind
// it cannot tell.
type Scope func(apiVersion, kind string) (clusterScoped, known bool)

// Classify lists the changes of the classes asked for between two
// revisions of a package (base empty for a first sync), in a stable
// order.
func Classify(base, target map[string]string, classes []Class, scope Scope) ([]Change, error) {
	want := map[Class]bool{}
	for _, c := range classes {
		want[c] = true
	}
	// A file the release left as it was changes nothing: only the files
	// that differ are read, a few of a big package.
	base, target = differing(base, target)
	var out []Change
	if want[Pipeline] {
		changes, err := pipelineChanges(base["Kptfile"], target["Kptfile"])
		if err != nil {
			return nil, err
		}
		out = append(out, changes...)
	}
	if !want[CRDs] && !want[Webhooks] && !want[RBAC] && !want[ClusterScoped] {
		return out, nil
	}
	was, err := objects(base)
	if err != nil {
		return nil, fmt.Errorf("the release the branch is on: %w", err)
	}
	is, err := objects(target)
	if err != nil {
		return nil, fmt.Errorf("the release proposed: %w", err)
	}
	for _, id := range sortedKeys(was, is) {
		before, after := was[id], is[id]
		var verb string
		switch {
		case before == nil:
			verb = "added"
		case after == nil:
			verb = "removed"
		case before.text != after.text:
			verb = "changed"
		default:
			continue
		}
		o := after
		if o == nil {
			o = before
		}
		for _, c := range classesOf(o, scope) {
			if want[c] {
				out = append(out, Change{Class: c, What: fmt.Sprintf("%s: %s %s %s", label(c), o.kind, o.name, verb)})
				break
			}
		}
	}
	// By class, in report order, then by identity.
	rank := map[Class]int{Pipeline: 0, CRDs: 1, Webhooks: 2, RBAC: 3, ClusterScoped: 4}
	slices.SortStableFunc(out, func(a, b Change) int { return rank[a.Class] - rank[b.Class] })
	return out, nil
}

func label(c Class) string {
	switch c {
	case ClusterScoped:
		return "cluster-scoped"
	case RBAC:
		return "rbac"
	}
	return strings.ToLower(string(c))
}

type object struct {
	apiVersion, kind, name string
	namespaced             bool // has metadata.namespace
	text                   string
}

func (o *object) group() string {
	if g, _, ok := strings.Cut(o.apiVersion, "/"); ok {
		return g
	}
	return ""
}

// classesOf are the classes an object belongs to, in report order.
func classesOf(o *object, scope Scope) []Class {
	var out []Class
	switch o.group() {
	case "apiextensions.k8s.io":
		if o.kind == "CustomResourceDefinition" {
			out = append(out, CRDs)
		}
	case "admissionregistration.k8s.io":
		out = append(out, Webhooks)
	case "rbac.authorization.k8s.io":
		out = append(out, RBAC)
	}
	if clusterScoped(o, scope) {
		out = append(out, ClusterScoped)
	}
	return out
}

// wellKnownClusterScoped are the built-in cluster-scoped kinds, for a
// Scope that does not know a kind.
var wellKnownClusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "StorageClass": true, "PriorityClass": true, "IngressClass": true,
	"RuntimeClass": true, "CSIDriver": true, "CSINode": true, "APIService": true, "VolumeAttachment": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"CertificateSigningRequest": true, "FlowSchema": true, "PriorityLevelConfiguration": true,
}

func clusterScoped(o *object, scope Scope) bool {
	if o.namespaced {
		return false
	}
	if scope != nil {
		if cs, known := scope(o.apiVersion, o.kind); known {
			return cs
		}
	}
	return wellKnownClusterScoped[o.kind]
}

// objects are a package's resources by identity, Kptfile and local
// config aside.
func objects(resources map[string]string) (map[string]*object, error) {
	out := map[string]*object{}
	for file, content := range resources {
		if path.Base(file) == "Kptfile" || !strings.HasSuffix(file, ".yaml") && !strings.HasSuffix(file, ".yml") {
			continue
		}
		nodes, err := (&kio.ByteReader{Reader: strings.NewReader(content), OmitReaderAnnotations: true}).Read()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, n := range nodes {
			if n.GetAnnotations()["config.kubernetes.io/local-config"] == "true" {
				continue
			}
			_ = n.PipeE(yaml.ClearAnnotation(kioutil.IndexAnnotation))
			text, err := n.String()
			if err != nil {
				return nil, err
			}
			o := &object{apiVersion: n.GetApiVersion(), kind: n.GetKind(), name: n.GetName(), namespaced: n.GetNamespace() != "", text: text}
			out[o.group()+"/"+o.kind+"/"+n.GetNamespace()+"/"+o.name] = o
		}
	}
	return out, nil
}

// pipelineChanges compares two Kptfiles' pipelines function by function:
// a function is known by its name, else by its image without tag.
func pipelineChanges(base, target string) ([]Change, error) {
	was, err := functions(base)
	if err != nil {
		return nil, fmt.Errorf("the Kptfile of the release the branch is on: %w", err)
	}
	is, err := functions(target)
	if err != nil {
		return nil, fmt.Errorf("the Kptfile of the release proposed: %w", err)
	}
	var out []Change
	for _, id := range sortedKeys(was, is) {
		before, inBase := was[id]
		after, inTarget := is[id]
		switch {
		case !inBase:
			out = append(out, Change{Pipeline, fmt.Sprintf("pipeline: %s %s added (%s)", after.role, after.display, after.image)})
		case !inTarget:
			out = append(out, Change{Pipeline, fmt.Sprintf("pipeline: %s %s removed (%s)", before.role, before.display, before.image)})
		case before.text != after.text:
			what := "changed"
			if before.image != after.image {
				what = fmt.Sprintf("changed (%s -> %s)", before.image, after.image)
			}
			out = append(out, Change{Pipeline, fmt.Sprintf("pipeline: %s %s %s", after.role, after.display, what)})
		}
	}
	return out, nil
}

type function struct {
	role, display, image, text string
}

func functions(kptfile string) (map[string]function, error) {
	out := map[string]function{}
	if strings.TrimSpace(kptfile) == "" {
		return out, nil
	}
	kf, err := yaml.Parse(kptfile)
	if err != nil {
		return nil, err
	}
	for _, role := range []string{"mutators", "validators"} {
		list, err := kf.Pipe(yaml.Lookup("pipeline", role))
		if err != nil {
			return nil, err
		}
		if list == nil {
			continue
		}
		elements, err := list.Elements()
		if err != nil {
			return nil, err
		}
		for i, fn := range elements {
			image := field(fn, "image")
			// Named as forkline names a variant's own steps.
			display := v1.Function{Name: field(fn, "name"), Image: image}.FunctionName()
			text, err := fn.String()
			if err != nil {
				return nil, err
			}
			id := role + "/" + display
			if _, dup := out[id]; dup {
				id = fmt.Sprintf("%s#%d", id, i)
			}
			out[id] = function{role: strings.TrimSuffix(role, "s"), display: display, image: image, text: text}
		}
	}
	return out, nil
}

func field(n *yaml.RNode, name string) string {
	if f := n.Field(name); f != nil {
		return yaml.GetValue(f.Value)
	}
	return ""
}

// sortedKeys is the union of the maps' keys, sorted.
func sortedKeys[V any](ms ...map[string]V) []string {
	var out []string
	for _, m := range ms {
		out = slices.AppendSeq(out, maps.Keys(m))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// differing are a and b less the files they hold alike.
func differing(a, b map[string]string) (map[string]string, map[string]string) {
	da, db := map[string]string{}, map[string]string{}
	for name, content := range a {
		if other, ok := b[name]; !ok || other != content {
			da[name] = content
		}
	}
	for name, content := range b {
		if other, ok := a[name]; !ok || other != content {
			db[name] = content
		}
	}
	return da, db
}
