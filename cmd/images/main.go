// Command images builds forkline's OCI images (the manager and the KRM
// functions) from static binaries into OCI layouts, without a Docker daemon
// or network, and prints each reference with its digest.
//
//	go run ./cmd/images -version v0.1.0 -out bin/images
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/images"
)

func main() {
	version := flag.String("version", "v0.1.0", "the images' tag")
	out := flag.String("out", "bin/images", "directory for the OCI layouts, one an image")
	flag.Parse()
	wd, err := os.Getwd()
	if err == nil {
		var root string
		if root, err = devstack.RepoRoot(wd); err == nil {
			var built []images.Built
			if built, err = images.BuildAll(root, *out, *version); err == nil {
				for _, b := range built {
					fmt.Printf("%s@%s  %s\n", b.Ref, b.Digest, b.Dir)
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}
