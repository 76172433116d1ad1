package porch

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Diagnose names what makes a package unusable, the first problem in file
// order: Porch refuses such a package with a vaguer error ("package must
// contain Kptfile at root" also for a YAML file that does not parse).
// Nil when it finds nothing.
func Diagnose(resources map[string]string) error {
	if _, ok := resources[KptfileName]; !ok {
		return fmt.Errorf("the package has no Kptfile at its root")
	}
	names := make([]string, 0, len(resources))
	for name := range resources {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := map[string]string{}
	for _, name := range names {
		content := resources[name]
		if !utf8.ValidString(content) {
			return fmt.Errorf("file %s is binary (not UTF-8 text); a kpt package holds text files", name)
		}
		ext := path.Ext(name)
		if name != KptfileName && !path.IsAbs(name) && path.Base(name) != KptfileName && ext != ".yaml" && ext != ".yml" {
			continue
		}
		nodes, err := (&kio.ByteReader{Reader: strings.NewReader(content), OmitReaderAnnotations: true}).Read()
		if err != nil {
			return fmt.Errorf("file %s does not parse as YAML: %w", name, err)
		}
		for _, n := range nodes {
			if n.IsNilOrEmpty() {
				continue
			}
			if n.YNode().Kind != yaml.MappingNode || n.GetKind() == "" {
				return fmt.Errorf("file %s holds a document that is not a Kubernetes resource (no kind)", name)
			}
			id := fmt.Sprintf("%s/%s %s/%s", n.GetApiVersion(), n.GetKind(), n.GetNamespace(), n.GetName())
			if first, dup := seen[id]; dup {
				return fmt.Errorf("resource %s is defined twice, in %s and %s", id, first, name)
			}
			seen[id] = name
		}
	}
	return nil
}
