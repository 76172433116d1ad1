// Package porch holds forkline's helpers for Porch packages: reading and
// editing the Kptfile (upstream lock, readiness gates, pipeline), the
// conflicts resource a draft carries, and content hashes.
package porch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// KptfileName is the package's Kptfile.
const KptfileName = "Kptfile"

// ConflictsGate is the readiness gate a draft with merge conflicts carries;
// porchctl refuses to propose it while the condition is not True.
const ConflictsGate = "forkline.dev/conflicts-resolved"

// Kptfile is a parsed Kptfile being edited.
type Kptfile struct{ node *yaml.RNode }

// ParseKptfile reads a Kptfile.
func ParseKptfile(content string) (*Kptfile, error) {
	n, err := yaml.Parse(content)
	if err != nil {
		return nil, fmt.Errorf("reading Kptfile: %w", err)
	}
	return &Kptfile{node: n}, nil
}

// String writes the Kptfile back.
func (k *Kptfile) String() (string, error) { return k.node.String() }

// UpstreamRef is upstreamLock.git.ref (e.g. app/v1.21.3), or "".
func (k *Kptfile) UpstreamRef() string {
	v, err := k.node.Pipe(yaml.Lookup("upstreamLock", "git", "ref"))
	if err != nil || v == nil {
		return ""
	}
	return v.YNode().Value
}

// UpstreamGit is the git repository and directory the package was cloned
// from (upstreamLock, else upstream); "" for a package with none.
func (k *Kptfile) UpstreamGit() (repo, directory string) {
	for _, section := range []string{"upstreamLock", "upstream"} {
		if g, _ := k.node.Pipe(yaml.Lookup(section, "git")); g != nil {
			if repo = scalar(g, "repo"); repo != "" {
				return repo, scalar(g, "directory")
			}
		}
	}
	return "", ""
}

// SetUpstream points upstream and upstreamLock at a new ref and commit,
// keeping the repo and directory Porch's clone recorded.
func (k *Kptfile) SetUpstream(ref, commit string) error {
	for _, f := range []struct {
		path  []string
		value string
	}{
		{[]string{"upstream", "git", "ref"}, ref},
		{[]string{"upstreamLock", "git", "ref"}, ref},
		{[]string{"upstreamLock", "git", "commit"}, commit},
	} {
		if err := k.node.PipeE(yaml.LookupCreate(yaml.ScalarNode, f.path[:len(f.path)-1]...), yaml.SetField(f.path[len(f.path)-1], yaml.NewStringRNode(f.value))); err != nil {
			return fmt.Errorf("setting %s: %w", strings.Join(f.path, "."), err)
		}
	}
	return nil
}

// VariantFunctionsFirst says whether the variant's functions run before the
// package's own mutators; mixed is false when the pipeline does not hold
// both (nothing to order).
func (k *Kptfile) VariantFunctionsFirst(variant string) (first, mixed bool) {
	seq, _ := k.node.Pipe(yaml.Lookup("pipeline", "mutators"))
	if seq == nil {
		return false, false
	}
	prefix := "forkline." + variant + "."
	own, others := -1, -1
	for i, n := range seq.Content() {
		if strings.HasPrefix(scalar(yaml.NewRNode(n), "name"), prefix) {
			if own < 0 {
				own = i
			}
		} else if others < 0 {
			others = i
		}
	}
	return own < others, own >= 0 && others >= 0
}

// Condition is a condition of the Kptfile's status.
type Condition struct{ Type, Status, Reason, Message string }

// UnmetGates are the Kptfile's readiness gates whose condition is not
// True (a gate with no condition is unmet: Status ""), in their order:
// what porchctl refuses to propose or approve.
func (k *Kptfile) UnmetGates() []Condition {
	gates, _ := k.node.Pipe(yaml.Lookup("info", "readinessGates"))
	if gates == nil {
		return nil
	}
	conds, _ := k.node.Pipe(yaml.Lookup("status", "conditions"))
	var unmet []Condition
	for _, gate := range gates.Content() {
		c := Condition{Type: scalar(yaml.NewRNode(gate), "conditionType")}
		if conds != nil {
			if n, _ := conds.Pipe(yaml.MatchElement("type", c.Type)); n != nil {
				c.Status, c.Reason, c.Message = scalar(n, "status"), scalar(n, "reason"), scalar(n, "message")
			}
		}
		if c.Status != "True" {
			unmet = append(unmet, c)
		}
	}
	return unmet
}

// scalar is the value of n's field, "" when it has none.
func scalar(n *yaml.RNode, field string) string {
	v, err := n.Pipe(yaml.Lookup(field))
	if err != nil || v == nil {
		return ""
	}
	return v.YNode().Value
}

// SetGate makes conditionType a readiness gate and sets its condition.
func (k *Kptfile) SetGate(conditionType string, ok bool, reason, message string) error {
	gates, err := k.node.Pipe(yaml.LookupCreate(yaml.SequenceNode, "info", "readinessGates"))
	if err != nil {
		return err
	}
	if gate, _ := gates.Pipe(yaml.MatchElement("conditionType", conditionType)); gate == nil {
		if err := gates.PipeE(yaml.Append(yaml.NewMapRNode(&map[string]string{"conditionType": conditionType}).YNode())); err != nil {
			return err
		}
	}
	return k.SetCondition(conditionType, ok, reason, message)
}

// SetCondition sets a status condition of the Kptfile (a PackageRevision
// condition in Porch) without making it a gate.
func (k *Kptfile) SetCondition(conditionType string, ok bool, reason, message string) error {
	conds, err := k.node.Pipe(yaml.LookupCreate(yaml.SequenceNode, "status", "conditions"))
	if err != nil {
		return err
	}
	status := "False"
	if ok {
		status = "True"
	}
	// Strings, tagged as such: a bare True would read back as a boolean.
	cond := yaml.NewRNode(&yaml.Node{Kind: yaml.MappingNode})
	for _, kv := range [][2]string{{"type", conditionType}, {"status", status}, {"reason", reason}, {"message", message}} {
		if err := cond.PipeE(yaml.SetField(kv[0], yaml.NewStringRNode(kv[1]))); err != nil {
			return err
		}
	}
	_, err = conds.Pipe(yaml.ElementSetter{Element: cond.YNode(), Keys: []string{"type"}, Values: []string{conditionType}})
	return err
}

// SetPipeline replaces the functions named forkline.<variant>.* in the
// pipeline with fns (already named), leaving everyone else's alone and in
// their order; the variant's go first, as Porch's PackageVariant puts
// them, or, last set, after everyone else's.
func (k *Kptfile) SetPipeline(variant string, mutators, validators []*yaml.RNode, last bool) error {
	prefix := "forkline." + variant + "."
	for _, list := range []struct {
		field string
		fns   []*yaml.RNode
	}{{"mutators", mutators}, {"validators", validators}} {
		existing, err := k.node.Pipe(yaml.Lookup("pipeline", list.field))
		if err != nil {
			return err
		}
		var kept []*yaml.Node
		if existing != nil {
			for _, e := range existing.Content() {
				name := ""
				if n := yaml.NewRNode(e).Field("name"); n != nil {
					name = n.Value.YNode().Value
				}
				if !strings.HasPrefix(name, prefix) {
					kept = append(kept, e)
				}
			}
		}
		own := make([]*yaml.Node, 0, len(list.fns))
		for _, fn := range list.fns {
			own = append(own, fn.YNode())
		}
		if last {
			kept = append(kept, own...)
		} else {
			kept = append(own, kept...)
		}
		if len(kept) == 0 {
			if existing != nil {
				if _, err := k.node.Pipe(yaml.Lookup("pipeline"), yaml.Clear(list.field)); err != nil {
					return err
				}
			}
			continue
		}
		seq, err := k.node.Pipe(yaml.LookupCreate(yaml.SequenceNode, "pipeline", list.field))
		if err != nil {
			return err
		}
		seq.YNode().Content = kept
	}
	return nil
}

// Hash identifies a package's content, to tell whether someone changed a
// draft since forkline last wrote it.
func Hash(resources map[string]string) string {
	names := make([]string, 0, len(resources))
	for n := range resources {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00%s", n, len(resources[n]), resources[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// PackageContextFile is the package-context ConfigMap Porch maintains.
const PackageContextFile = "package-context.yaml"

// SetPackageContext sets and removes keys of the package-context ConfigMap's
// data, as Porch's PackageVariant does; the package's name is Porch's.
// A package without the file (one not in a deployment Repository) is an
// error a person acts on, as Porch's PackageVariant reports it: forkline
// does not make a deployment package of it.
func SetPackageContext(resources, data map[string]string, removeKeys []string) error {
	if len(data) == 0 && len(removeKeys) == 0 {
		return nil
	}
	content, ok := resources[PackageContextFile]
	if !ok {
		return fmt.Errorf("packageContext is set, but the package has no %q: Porch writes it only into packages of a deployment Repository (spec.deployment: true); make the downstream Repository one, or remove packageContext", PackageContextFile)
	}
	n, err := yaml.Parse(content)
	if err != nil {
		return fmt.Errorf("reading %s: %w", PackageContextFile, err)
	}
	d, err := n.Pipe(yaml.LookupCreate(yaml.MappingNode, "data"))
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "name" || k == "package-path" {
			return fmt.Errorf("packageContext.data cannot set %q: Porch sets it", k)
		}
		if err := d.PipeE(yaml.SetField(k, yaml.NewStringRNode(data[k]))); err != nil {
			return err
		}
	}
	for _, k := range removeKeys {
		if k == "name" || k == "package-path" {
			return fmt.Errorf("packageContext.removeKeys cannot remove %q: Porch sets it", k)
		}
		if _, err := d.Pipe(yaml.Clear(k)); err != nil {
			return err
		}
	}
	out, err := n.String()
	if err != nil {
		return err
	}
	resources[PackageContextFile] = out
	return nil
}
