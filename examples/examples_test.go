// Package examples checks that the example package renders cleanly with
// forkline's functions, in its pipeline's order.
package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"

	"github.com/forkline/forkline/functions/align-images/alignimages"
	"github.com/forkline/forkline/functions/bump-version/bumpversion"
	"github.com/forkline/forkline/functions/fntest"
	"github.com/forkline/forkline/functions/lock-references/lockrefs"
)

func TestStepsPipelineRenders(t *testing.T) {
	var docs []string
	for _, f := range []string{"Kptfile", "deployment.yaml", "streams.yaml"} {
		b, err := os.ReadFile(filepath.Join("steps", f))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	streams := docs[2]
	items := strings.Join(docs, "\n---\n")
	bumpConfig := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bump\ndata:\n  images: registry.example.com/app\n"
	for _, step := range []struct {
		name    string
		process fn.ResourceListProcessorFunc
		config  string
	}{
		{"bump-version", bumpversion.Process, bumpConfig},
		{"align-images", alignimages.Process, streams},
		{"lock-references", lockrefs.Process, ""},
	} {
		out, err := fn.Run(step.process, []byte(fntest.ResourceList(t, items, step.config)))
		if err != nil {
			t.Fatalf("%s failed: %v\n%s", step.name, err, out)
		}
		rl, err := fn.ParseResourceList(out)
		if err != nil {
			t.Fatal(err)
		}
		var next []string
		for _, o := range rl.Items {
			next = append(next, o.String())
		}
		items = strings.Join(next, "\n---\n")
	}
	for _, want := range []string{
		"image: registry.example.com/app:1.21.3",
		"image: registry.example.com/base:9.4",
		"kind: ReferenceLock",
		"commit: 9f2c1e0b7a6d5c4b3a291807f6e5d4c3b2a19081",
	} {
		if !strings.Contains(items, want) {
			t.Errorf("rendered package lacks %q:\n%s", want, items)
		}
	}
}
