// Package install renders forkline's installation, config/default, with
// kustomize: the manifests `make release` ships as dist/install.yaml and
// the end-to-end suites apply to the local stack, so the RBAC the tests
// run under is the RBAC a cluster gets.
package install

import (
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Render builds config/default of the checkout at root. images maps an
// image name (ghcr.io/forkline/manager) to the reference to pin it to
// (with its digest); nil leaves the tags as written.
func Render(root string, images map[string]string) ([]*yaml.RNode, error) {
	opts := krusty.MakeDefaultOptions()
	// Namespaces, CRDs and RBAC first, as kubectl apply -f needs them.
	opts.Reorder = krusty.ReorderOptionLegacy
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", "default"))
	if err != nil {
		return nil, fmt.Errorf("kustomize build config/default: %w", err)
	}
	var out []*yaml.RNode
	for _, r := range m.Resources() {
		node := &r.RNode
		if err := pin(node, images); err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
		}
		out = append(out, node)
	}
	return out, nil
}

// pin sets each container image named in images to its pinned reference.
func pin(node *yaml.RNode, images map[string]string) error {
	if len(images) == 0 || node.GetKind() != "Deployment" {
		return nil
	}
	containers, err := node.Pipe(yaml.Lookup("spec", "template", "spec", "containers"))
	if err != nil || containers == nil {
		return err
	}
	return containers.VisitElements(func(c *yaml.RNode) error {
		field := c.Field("image")
		if field == nil {
			return nil
		}
		name, _, _ := strings.Cut(yaml.GetValue(field.Value), "@")
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name = name[:i]
		}
		if ref, ok := images[name]; ok {
			return c.PipeE(yaml.SetField("image", yaml.NewStringRNode(ref)))
		}
		return nil
	})
}

// YAML is the objects as one multi-document stream.
func YAML(objects []*yaml.RNode) (string, error) {
	var b strings.Builder
	for i, o := range objects {
		s, err := o.String()
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(s)
	}
	return b.String(), nil
}
