// Package bumpversion sets a package's new version wherever the package
// carries it: image tags of named images, version labels and annotations,
// and any field path the config lists.
package bumpversion

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"
	"github.com/Masterminds/semver/v3"

	"github.com/forkline/forkline/functions/internal/krm"
)

// DefaultLabels are the label and annotation keys that carry a version.
var DefaultLabels = []string{"app.kubernetes.io/version"}

// Config is the function's configuration (kind BumpVersion, or a ConfigMap
// whose data holds the same keys, lists comma-separated).
type Config struct {
	Version    string   // e.g. 1.21.3; default: from the Kptfile's upstreamLock ref
	Images     []string // image repositories whose tag is the version
	Labels     []string // label and annotation keys whose value is the version
	FieldPaths []string // "path.to.field" where present, or "Kind:path.to.field" on every Kind
}

func readConfig(rl *fn.ResourceList) (Config, error) {
	cfg := Config{Labels: DefaultLabels}
	if c := rl.FunctionConfig; c != nil && !c.IsEmpty() {
		if kind := c.GetKind(); kind != "ConfigMap" && kind != "BumpVersion" {
			return cfg, fmt.Errorf("functionConfig must be a BumpVersion or a ConfigMap, not %s", kind)
		}
		cfg.Version = krm.String(c, []string{"spec", "version"}, "version")
		cfg.Images = krm.List(c, []string{"spec", "images"}, "images")
		if labels := krm.List(c, []string{"spec", "labels"}, "labels"); len(labels) > 0 {
			cfg.Labels = labels
		}
		cfg.FieldPaths = krm.List(c, []string{"spec", "fieldPaths"}, "fieldPaths")
	}
	if cfg.Version == "" {
		lock, ok := krm.FindUpstreamLock(rl.Items)
		if !ok {
			return cfg, fmt.Errorf("no version: set spec.version (or data.version), or run it in a package whose Kptfile has an upstreamLock")
		}
		cfg.Version = path.Base(lock.Ref) // app/v1.21.3 -> v1.21.3
	}
	v, err := semver.NewVersion(cfg.Version)
	if err != nil {
		return cfg, fmt.Errorf("version %q is not a semantic version: %w", cfg.Version, err)
	}
	// Normalized (1.22 -> 1.22.0) so a label never reads as a number.
	cfg.Version = v.String()
	for _, fp := range cfg.FieldPaths {
		if strings.TrimSpace(strings.TrimPrefix(fp, kindOf(fp)+":")) == "" {
			return cfg, fmt.Errorf("field path %q names no field", fp)
		}
	}
	return cfg, nil
}

// Process is the function.
func Process(rl *fn.ResourceList) (bool, error) {
	cfg, err := readConfig(rl)
	if err != nil {
		return krm.ConfigError(rl, err)
	}
	for _, o := range rl.Items {
		if krm.Skipped(o) {
			continue
		}
		results, err := bump(o, cfg)
		if err != nil {
			rl.Results = append(rl.Results, krm.Result(o, "", err.Error(), fn.Error))
			return false, nil
		}
		rl.Results = append(rl.Results, results...)
	}
	if len(rl.Results) == 0 {
		rl.Results = append(rl.Results, fn.GeneralResult(fmt.Sprintf("nothing carries a version to set to %s", cfg.Version), fn.Info))
	}
	return true, nil
}

func bump(o *fn.KubeObject, cfg Config) (fn.Results, error) {
	var results fn.Results
	set := func(field, old, updated string, apply func() error) error {
		if old == updated {
			return nil
		}
		if err := apply(); err != nil {
			return fmt.Errorf("setting %s: %w", field, err)
		}
		if old == "" {
			old = "unset"
		}
		results = append(results, krm.Result(o, field, fmt.Sprintf("set %s to %s (was %s)", field, updated, old), fn.Info))
		return nil
	}

	for _, c := range krm.Containers(o) {
		image := c.Image()
		repo, ref := krm.SplitImage(image)
		if !slices.Contains(cfg.Images, repo) {
			continue
		}
		if strings.HasPrefix(ref, "@") {
			results = append(results, krm.Result(o, c.Path+".image", fmt.Sprintf("%s is pinned by digest; not bumped", image), fn.Warning))
			continue
		}
		tag := cfg.Version
		if strings.HasPrefix(ref, ":v") {
			tag = "v" + tag
		}
		if err := set(c.Path+".image", image, repo+":"+tag, func() error { return c.SetImage(repo + ":" + tag) }); err != nil {
			return nil, err
		}
	}

	for _, key := range cfg.Labels {
		for _, where := range [][]string{
			{"metadata", "labels"},
			{"metadata", "annotations"},
			{"spec", "template", "metadata", "labels"},
		} {
			fields := append(append([]string{}, where...), key)
			old, found, _ := o.NestedString(fields...)
			if !found {
				continue
			}
			if err := set(strings.Join(where, ".")+"["+key+"]", old, cfg.Version, func() error {
				return o.SetNestedString(cfg.Version, fields...)
			}); err != nil {
				return nil, err
			}
		}
	}

	for _, fp := range cfg.FieldPaths {
		kind := kindOf(fp)
		fields := strings.Split(strings.TrimPrefix(fp, kind+":"), ".")
		old, found, _ := o.NestedString(fields...)
		if kind != "" && kind != o.GetKind() || kind == "" && !found {
			continue
		}
		if err := set(strings.Join(fields, "."), old, cfg.Version, func() error {
			return o.SetNestedString(cfg.Version, fields...)
		}); err != nil {
			return nil, err
		}
	}
	return results, nil
}

func kindOf(fieldPath string) string {
	if i := strings.Index(fieldPath, ":"); i >= 0 {
		return fieldPath[:i]
	}
	return ""
}
