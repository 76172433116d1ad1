// Package inject fills a package's config injection points as Porch's
// PackageVariant does: resources annotated kpt.dev/config-injection
// (required or optional) get the data (ConfigMaps) or spec (other kinds) of
// a same-namespace object the variant's injectors select, annotated
// kpt.dev/injected-resource with its name, and each point gets a condition
// config.injection.<Kind>.<name> with Porch's reasons and messages
// (ConfigInjected, NoResourceSelected); required points are readiness
// gates, whether or not the variant has injectors.
package inject

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

const (
	// PointAnnotation marks an injection point: required or optional.
	PointAnnotation = "kpt.dev/config-injection"
	// InjectedAnnotation names the object injected into a point, as Porch
	// writes it.
	InjectedAnnotation = "kpt.dev/injected-resource"
	// legacyInjectedAnnotation is what forkline wrote before it wrote
	// Porch's: removed where a point is filled again.
	legacyInjectedAnnotation = "kpt.dev/injected-resource-name"

	// ReasonInjected is the reason of a filled point's condition, Porch's
	// own.
	ReasonInjected = "ConfigInjected"
	// ReasonNotSelected is the reason of an unfilled point's condition,
	// Porch's own.
	ReasonNotSelected = "NoResourceSelected"
)

// Object is an in-cluster object that may be injected: its field to copy
// (data or spec) as YAML.
type Object struct {
	Name  string
	Field *yaml.RNode
}

// Lookup finds an object of the point's apiVersion and kind by name in the
// variant's namespace; nil when there is none.
type Lookup func(apiVersion, kind, name string) (*Object, error)

// Point is one injection point and what became of it.
type Point struct {
	File, Kind, Name string
	Required         bool
	Injected         string // the injected object's name, "" if none
	Message          string
}

// Reason is the reason of the point's condition.
func (p Point) Reason() string {
	if p.Injected != "" {
		return ReasonInjected
	}
	return ReasonNotSelected
}

// HasPoints says whether a package has any injection point.
func HasPoints(resources map[string]string) bool {
	for file, content := range resources {
		if yamlFile(file) && strings.Contains(content, PointAnnotation) {
			return true
		}
	}
	return false
}

func yamlFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// ConditionType is the point's condition and, if required, readiness gate.
func (p Point) ConditionType() string { return ConditionPrefix + p.Kind + "." + p.Name }

// ConditionPrefix starts the condition type of every injection point.
const ConditionPrefix = "config.injection."

// Apply injects into every point of the package and reports the points.
// An invalid annotation value is an error: the upstream must fix it.
func Apply(resources map[string]string, injectors []v1.Injector, lookup Lookup) ([]Point, error) {
	var points []Point
	files := make([]string, 0, len(resources))
	for f := range resources {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		if !yamlFile(file) {
			continue
		}
		if !strings.Contains(resources[file], PointAnnotation) {
			continue // the common case: nothing to parse
		}
		docs, err := kio.FromBytes([]byte(resources[file]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		changed := false
		for _, doc := range docs {
			mode := doc.GetAnnotations()[PointAnnotation]
			if mode == "" {
				continue
			}
			if mode != "required" && mode != "optional" {
				return nil, fmt.Errorf("%s: %s %q has %s: %q; it must be required or optional", file, doc.GetKind(), doc.GetName(), PointAnnotation, mode)
			}
			p := Point{File: file, Kind: doc.GetKind(), Name: doc.GetName(), Required: mode == "required"}
			obj, err := selectObject(doc, injectors, lookup)
			if err != nil {
				return nil, err
			}
			if obj == nil {
				p.Message = "no resource matched any injection selector for this injection point"
				if len(injectors) == 0 {
					p.Message = "no injectors defined"
				}
				points = append(points, p)
				continue
			}
			field := "spec"
			if doc.GetKind() == "ConfigMap" && doc.GetApiVersion() == "v1" {
				field = "data"
			}
			if err := doc.PipeE(yaml.SetField(field, obj.Field)); err != nil {
				return nil, err
			}
			if err := doc.PipeE(yaml.SetAnnotation(InjectedAnnotation, obj.Name)); err != nil {
				return nil, err
			}
			if err := doc.PipeE(yaml.ClearAnnotation(legacyInjectedAnnotation)); err != nil {
				return nil, err
			}
			p.Injected, p.Message = obj.Name, fmt.Sprintf("injected resource %q from cluster", obj.Name)
			points = append(points, p)
			changed = true
		}
		if changed {
			out, err := kio.StringAll(docs)
			if err != nil {
				return nil, err
			}
			resources[file] = out
		}
	}
	return points, nil
}

// selectObject walks the injectors in order: the first whose fields match
// the point and names an existing object wins.
func selectObject(point *yaml.RNode, injectors []v1.Injector, lookup Lookup) (*Object, error) {
	apiVersion, kind := point.GetApiVersion(), point.GetKind()
	group, version := "", apiVersion
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		group, version = apiVersion[:i], apiVersion[i+1:]
	}
	for _, in := range injectors {
		if (in.Kind != "" && in.Kind != kind) || (in.Group != "" && in.Group != group) || (in.Version != "" && in.Version != version) {
			continue
		}
		obj, err := lookup(apiVersion, kind, in.Name)
		if err != nil {
			return nil, fmt.Errorf("looking up %s %q to inject: %w", kind, in.Name, err)
		}
		if obj != nil {
			return obj, nil
		}
	}
	return nil, nil
}
