// Package lockrefs is the package's lockfile: it records every image
// reference the package uses and the upstream commit it came from in a
// local-config ReferenceLock (mode write), and fails precisely when the
// resources drifted from that lock (mode verify).
package lockrefs

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/forkline/forkline/functions/internal/krm"
)

const (
	// LockAPIVersion is the lock resource's apiVersion.
	LockAPIVersion = "fn.forkline.dev/v1alpha1"
	// LockKind is the lock resource's kind.
	LockKind = "ReferenceLock"
	// DefaultLockName is the lock resource's name unless configured.
	DefaultLockName = "references"
)

// Pin is an image reference a person chose by hand, with why.
type Pin struct {
	Image  string `json:"image" yaml:"image"`
	Reason string `json:"reason" yaml:"reason"`
}

// Config is the function's configuration (kind LockReferences, or a
// ConfigMap with data.mode and data.lockName).
type Config struct {
	Mode     string `json:"mode,omitempty" yaml:"mode,omitempty"` // write (default) or verify
	LockName string `json:"lockName,omitempty" yaml:"lockName,omitempty"`
	Pins     []Pin  `json:"pins,omitempty" yaml:"pins,omitempty"`
}

// Lock is the ReferenceLock's spec.
type Lock struct {
	Upstream *Upstream  `json:"upstream,omitempty" yaml:"upstream,omitempty"`
	Images   []ImageRef `json:"images" yaml:"images"`
}

// Upstream is the upstream commit the package came from.
type Upstream struct {
	Repo      string `json:"repo,omitempty" yaml:"repo,omitempty"`
	Directory string `json:"directory,omitempty" yaml:"directory,omitempty"`
	Ref       string `json:"ref,omitempty" yaml:"ref,omitempty"`
	Commit    string `json:"commit,omitempty" yaml:"commit,omitempty"`
}

// ImageRef is one image reference and who uses it.
type ImageRef struct {
	Image  string   `json:"image" yaml:"image"`
	UsedBy []string `json:"usedBy" yaml:"usedBy"`
	Reason string   `json:"reason,omitempty" yaml:"reason,omitempty"`
}

func readConfig(rl *fn.ResourceList) (Config, error) {
	cfg := Config{Mode: "write", LockName: DefaultLockName}
	c := rl.FunctionConfig
	if c != nil && !c.IsEmpty() {
		switch c.GetKind() {
		case "ConfigMap":
			cfg.Mode = krm.String(c, nil, "mode")
			cfg.LockName = krm.String(c, nil, "lockName")
		case "LockReferences":
			if _, err := c.NestedResource(&cfg, "spec"); err != nil {
				return cfg, fmt.Errorf("reading spec: %w", err)
			}
		default:
			return cfg, fmt.Errorf("functionConfig must be a LockReferences or a ConfigMap, not %s", c.GetKind())
		}
	}
	if cfg.Mode == "" {
		cfg.Mode = "write"
	}
	if cfg.LockName == "" {
		cfg.LockName = DefaultLockName
	}
	if cfg.Mode != "write" && cfg.Mode != "verify" {
		return cfg, fmt.Errorf("mode %q must be write or verify", cfg.Mode)
	}
	for i, p := range cfg.Pins {
		if p.Image == "" || strings.TrimSpace(p.Reason) == "" {
			return cfg, fmt.Errorf("pins[%d] needs an image and a reason (a pin without a reason is invalid)", i)
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
	want := compute(rl.Items, cfg.Pins)
	existing := findLock(rl.Items, cfg.LockName)
	if cfg.Mode == "verify" {
		return verify(rl, cfg, want, existing), nil
	}
	lockObj, err := lockObject(cfg.LockName, want)
	if err != nil {
		return krm.ConfigError(rl, err)
	}
	if existing != nil {
		*existing = *lockObj
	} else {
		rl.Items = append(rl.Items, lockObj)
	}
	msg := fmt.Sprintf("locked %d image references", len(want.Images))
	if want.Upstream != nil {
		msg += " at upstream " + want.Upstream.Ref + " (" + want.Upstream.Commit + ")"
	}
	rl.Results = append(rl.Results, krm.Result(lockObj, "", msg, fn.Info))
	return true, nil
}

// compute builds the lock the resources call for, sorted.
func compute(items fn.KubeObjects, pins []Pin) Lock {
	users := map[string][]string{}
	for _, o := range items {
		if krm.Skipped(o) {
			continue
		}
		id := fmt.Sprintf("%s/%s/%s/%s", o.GroupKind().Group, o.GetKind(), o.GetNamespace(), o.GetName())
		for _, c := range krm.Containers(o) {
			if img := c.Image(); img != "" {
				if !slices.Contains(users[img], id) {
					users[img] = append(users[img], id)
				}
			}
		}
	}
	reasons := map[string]string{}
	for _, p := range pins {
		reasons[p.Image] = p.Reason
	}
	lock := Lock{Images: []ImageRef{}}
	if up, ok := krm.FindUpstreamLock(items); ok {
		lock.Upstream = &Upstream{Repo: up.Repo, Directory: up.Directory, Ref: up.Ref, Commit: up.Commit}
	}
	for img, by := range users {
		sort.Strings(by)
		lock.Images = append(lock.Images, ImageRef{Image: img, UsedBy: by, Reason: reasons[img]})
	}
	sort.Slice(lock.Images, func(i, j int) bool { return lock.Images[i].Image < lock.Images[j].Image })
	return lock
}

// verify reports each way the resources drifted from the lock.
func verify(rl *fn.ResourceList, cfg Config, want Lock, existing *fn.KubeObject) bool {
	if existing == nil {
		rl.Results = append(rl.Results, krm.Result(krm.ConfigObject(rl), "",
			fmt.Sprintf("no %s %q to verify against: run lock-references in mode write first", LockKind, cfg.LockName), fn.Error))
		return false
	}
	var have Lock
	if _, err := existing.NestedResource(&have, "spec"); err != nil {
		rl.Results = append(rl.Results, krm.Result(existing, "spec", "unreadable lock: "+err.Error(), fn.Error))
		return false
	}
	fail := func(field, format string, args ...any) {
		rl.Results = append(rl.Results, krm.Result(existing, field, fmt.Sprintf(format, args...), fn.Error))
	}
	locked := map[string]ImageRef{}
	for _, r := range have.Images {
		locked[r.Image] = r
	}
	used := map[string]ImageRef{}
	for _, r := range want.Images {
		used[r.Image] = r
		if _, ok := locked[r.Image]; !ok {
			fail("spec.images", "%s (used by %s) is not in the lock", r.Image, strings.Join(r.UsedBy, ", "))
		}
	}
	for _, r := range have.Images {
		if _, ok := used[r.Image]; !ok {
			fail("spec.images", "the lock lists %s (used by %s) but no resource uses it now", r.Image, strings.Join(r.UsedBy, ", "))
		}
	}
	if want.Upstream != nil && (have.Upstream == nil || have.Upstream.Commit != want.Upstream.Commit) {
		lockedCommit := "none"
		if have.Upstream != nil {
			lockedCommit = have.Upstream.Commit
		}
		fail("spec.upstream.commit", "upstream commit drifted: the lock has %s, the Kptfile's upstreamLock has %s (%s)", lockedCommit, want.Upstream.Commit, want.Upstream.Ref)
	}
	for _, r := range rl.Results {
		if r.Severity == fn.Error {
			return false
		}
	}
	rl.Results = append(rl.Results, krm.Result(existing, "", fmt.Sprintf("%d image references match the lock", len(want.Images)), fn.Info))
	return true
}

func findLock(items fn.KubeObjects, name string) *fn.KubeObject {
	for _, o := range items {
		if o.GetAPIVersion() == LockAPIVersion && o.GetKind() == LockKind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// lockObject is the ReferenceLock resource, local-config so it is never
// applied to a cluster, in its own file.
func lockObject(name string, lock Lock) (*fn.KubeObject, error) {
	spec, err := yaml.Marshal(lock)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n  annotations:\n", LockAPIVersion, LockKind, name)
	sb.WriteString("    config.kubernetes.io/local-config: \"true\"\n")
	fmt.Fprintf(&sb, "    internal.config.kubernetes.io/path: %s.lock.yaml\n", name)
	sb.WriteString("spec:\n")
	for _, line := range strings.Split(strings.TrimRight(string(spec), "\n"), "\n") {
		sb.WriteString("  " + line + "\n")
	}
	return fn.ParseKubeObject([]byte(sb.String()))
}
