// Command release builds forkline's images and renders its installation,
// config/default, into one file with every image pinned by digest:
//
//	go run ./cmd/release -version v0.1.0   # bin/images/*, dist/install.yaml
//
// and the kubectl plugin's archives per platform with their krew
// manifest, dist/kubectl-forkline.yaml.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/images"
	"github.com/forkline/forkline/internal/install"
)

func main() {
	version := flag.String("version", "v0.1.0", "the release's version, the images' tag")
	out := flag.String("out", "dist/install.yaml", "the installation manifest to write")
	flag.Parse()
	if err := run(*version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(version, out string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := devstack.RepoRoot(wd)
	if err != nil {
		return err
	}
	built, err := images.BuildAll(root, filepath.Join(root, "bin", "images"), version)
	if err != nil {
		return err
	}
	pinned := map[string]string{}
	for _, b := range built {
		ref := fmt.Sprintf("%s@%s", b.Ref, b.Digest)
		pinned[b.Ref.Context().String()] = ref
		fmt.Println(ref)
	}
	objects, err := install.Render(root, pinned)
	if err != nil {
		return err
	}
	manifest, err := install.YAML(objects)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# forkline %s: kubectl apply -f install.yaml (next to an installed Porch).\n# Rendered from config/default by `make release`; images pinned by digest.\n", version)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(header+manifest), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d objects\n", out, len(objects))
	return plugin(root, filepath.Dir(out), version)
}
