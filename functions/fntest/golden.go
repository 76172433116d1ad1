// Package fntest runs a KRM function's golden cases: each testdata/<case>/
// holds resources.yaml (the items), fnconfig.yaml (the functionConfig) and
// expected.yaml (the whole output ResourceList, results included).
// `go test ./functions/... -update` rewrites expected.yaml; nothing else does.
package fntest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite each golden case's expected.yaml from the function's output")

// RunGolden runs every case under dir through the function the way the
// binary does (fn.Run over the serialized ResourceList).
func RunGolden(t *testing.T, dir string, process fn.ResourceListProcessorFunc) {
	t.Helper()
	cases, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no golden cases under %s", dir)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		caseDir := filepath.Join(dir, c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			input := ResourceList(t, read(t, filepath.Join(caseDir, "resources.yaml")), read(t, filepath.Join(caseDir, "fnconfig.yaml")))
			// An error result makes Run return an error too; the output
			// ResourceList, compared below, says which.
			got, _ := fn.Run(process, []byte(input))
			expected := filepath.Join(caseDir, "expected.yaml")
			if *update {
				if err := os.WriteFile(expected, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(read(t, expected), string(got)); diff != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", expected, diff)
			}
		})
	}
}

// ResourceList wraps items (a multi-document YAML stream) and a function
// config into a ResourceList, as kpt and Porch send it.
func ResourceList(t testing.TB, items, config string) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	for _, doc := range strings.Split(items, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		sb.WriteString(indentItem(doc))
	}
	if strings.TrimSpace(config) != "" {
		sb.WriteString("functionConfig:\n")
		for _, line := range strings.Split(strings.TrimRight(config, "\n"), "\n") {
			sb.WriteString("  " + line + "\n")
		}
	}
	return sb.String()
}

func indentItem(doc string) string {
	var sb strings.Builder
	for i, line := range strings.Split(strings.TrimRight(strings.TrimPrefix(doc, "---\n"), "\n"), "\n") {
		if i == 0 {
			sb.WriteString("- " + line + "\n")
		} else {
			sb.WriteString("  " + line + "\n")
		}
	}
	return sb.String()
}

func read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
