package convert

import (
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// Render writes the converted objects as one YAML stream, each preceded by
// comments naming what it came from, what did not convert and where
// forkline differs, so the file a person applies says it too.
func Render(w io.Writer, cs []Converted) error {
	for i, c := range cs {
		if i > 0 {
			if _, err := fmt.Fprintln(w, "---"); err != nil {
				return err
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# converted from Porch %s\n", c.From)
		for _, l := range c.Lost {
			fmt.Fprintf(&b, "# NOT CONVERTED: %s\n", l)
		}
		for _, d := range c.Differs {
			fmt.Fprintf(&b, "# differs: %s\n", d)
		}
		obj, err := clean(c.Object)
		if err != nil {
			return err
		}
		b.Write(obj)
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// clean is the object's YAML without the fields the API server fills.
func clean(obj any) ([]byte, error) {
	raw, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return yaml.Marshal(m)
}
