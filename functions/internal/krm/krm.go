// Package krm holds what forkline's functions share: where images live in
// workloads, how configs are read, the Kptfile's upstream lock.
package krm

import (
	"fmt"
	"strings"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// containerPaths are the container lists of the built-in workload kinds.
var containerPaths = [][]string{
	{"spec", "containers"},
	{"spec", "initContainers"},
	{"spec", "template", "spec", "containers"},
	{"spec", "template", "spec", "initContainers"},
	{"spec", "jobTemplate", "spec", "template", "spec", "containers"},
	{"spec", "jobTemplate", "spec", "template", "spec", "initContainers"},
}

// Container is one container of a workload, with where it sits.
type Container struct {
	Obj  *fn.SubObject
	Path string // e.g. spec.template.spec.containers[name=app]
}

// Image is the container's image.
func (c Container) Image() string {
	image, _, _ := c.Obj.NestedString("image")
	return image
}

// SetImage changes the container's image.
func (c Container) SetImage(image string) error {
	return c.Obj.SetNestedString(image, "image")
}

// Containers lists the containers of a workload, in document order.
func Containers(o *fn.KubeObject) []Container {
	var out []Container
	for _, path := range containerPaths {
		list, found, err := o.NestedSlice(path...)
		if err != nil || !found {
			continue
		}
		for _, c := range list {
			name, _, _ := c.NestedString("name")
			out = append(out, Container{Obj: c, Path: strings.Join(path, ".") + "[name=" + name + "]"})
		}
	}
	return out
}

// SplitImage splits an image reference into its repository and its tag or
// digest suffix (":1.2" or "@sha256:..."), minding registry ports.
func SplitImage(image string) (repo, ref string) {
	if i := strings.Index(image, "@"); i >= 0 {
		return image[:i], image[i:]
	}
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[:i], image[i:]
	}
	return image, ""
}

// IsKptfile says whether o is the package's Kptfile.
func IsKptfile(o *fn.KubeObject) bool {
	return o.GetKind() == "Kptfile" && strings.HasPrefix(o.GetAPIVersion(), "kpt.dev/")
}

// Skipped says whether a function that is not about local config leaves o
// alone: the Kptfile and anything marked local-config.
func Skipped(o *fn.KubeObject) bool {
	return IsKptfile(o) || o.IsLocalConfig()
}

// UpstreamLock is the git lock the Kptfile records for the package's
// upstream, if any.
type UpstreamLock struct {
	Repo, Directory, Ref, Commit string
}

// FindUpstreamLock reads the Kptfile's upstreamLock among items. Values are
// read as written: an all-digit commit is still a string.
func FindUpstreamLock(items fn.KubeObjects) (UpstreamLock, bool) {
	for _, o := range items {
		if !IsKptfile(o) {
			continue
		}
		node, err := yaml.Parse(o.String())
		if err != nil {
			return UpstreamLock{}, false
		}
		get := func(field string) string {
			v, err := node.Pipe(yaml.Lookup("upstreamLock", "git", field))
			if err != nil || v == nil {
				return ""
			}
			return v.YNode().Value
		}
		if get("ref") == "" {
			return UpstreamLock{}, false
		}
		return UpstreamLock{Repo: get("repo"), Directory: get("directory"), Ref: get("ref"), Commit: get("commit")}, true
	}
	return UpstreamLock{}, false
}

// List reads a config value given either as a YAML list (typed config) or
// as a comma-separated string (a ConfigMap's data, as Kptfile pipelines
// and Porch's configMap pass it).
func List(config *fn.KubeObject, typedPath []string, dataKey string) []string {
	if config.GetKind() == "ConfigMap" {
		raw, _, _ := config.NestedString("data", dataKey)
		var out []string
		for _, v := range strings.Split(raw, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	out, _, _ := config.NestedStringSlice(typedPath...)
	return out
}

// String reads a scalar config value from a typed config or ConfigMap data.
func String(config *fn.KubeObject, typedPath []string, dataKey string) string {
	if config.GetKind() == "ConfigMap" {
		v, _, _ := config.NestedString("data", dataKey)
		return strings.TrimSpace(v)
	}
	v, _, _ := config.NestedString(typedPath...)
	return v
}

// Result ties a message to a resource, and to one of its fields if given.
func Result(o *fn.KubeObject, field, msg string, severity fn.Severity) *fn.Result {
	r := &fn.Result{
		Message:  msg,
		Severity: severity,
		ResourceRef: &fn.ResourceRef{
			APIVersion: o.GetAPIVersion(),
			Kind:       o.GetKind(),
			Name:       o.GetName(),
			Namespace:  o.GetNamespace(),
		},
	}
	if field != "" {
		r.Field = &fn.Field{Path: field}
	}
	for _, key := range []string{"internal.config.kubernetes.io/path", "config.kubernetes.io/path"} {
		if path := o.GetAnnotation(key); path != "" {
			r.File = &fn.File{Path: path}
			break
		}
	}
	return r
}

// ConfigObject is the config to tie a config error to, or an empty object.
func ConfigObject(rl *fn.ResourceList) *fn.KubeObject {
	if rl.FunctionConfig != nil {
		return rl.FunctionConfig
	}
	return fn.NewEmptyKubeObject()
}

// ConfigError records a bad config as an error result on the config.
func ConfigError(rl *fn.ResourceList, err error) (bool, error) {
	rl.Results = append(rl.Results, Result(ConfigObject(rl), "", err.Error(), fn.Error))
	return false, nil
}

// WithErrorSummary makes a failing run also return its error results as
// the error, which the SDK prints to stderr. Porch's exec runtime drops a
// failed function's stdout and keeps stderr, so this is how the reason
// reaches the draft's render status.
func WithErrorSummary(process fn.ResourceListProcessorFunc) fn.ResourceListProcessorFunc {
	return func(rl *fn.ResourceList) (bool, error) {
		ok, err := process(rl)
		if ok || err != nil {
			return ok, err
		}
		var msgs []string
		for _, r := range rl.Results {
			if r.Severity == fn.Error {
				msgs = append(msgs, r.String())
			}
		}
		if len(msgs) == 0 {
			return false, nil
		}
		return false, fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
}
