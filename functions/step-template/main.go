// Command step-template is the template for a step of your own: a KRM
// function that labels every resource of a package with its owning team.
// Copy this directory, rename it, and change setowner (see README.md).
package main

import (
	"os"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"

	"github.com/forkline/forkline/functions/step-template/setowner"
)

func main() {
	if err := fn.AsMain(fn.ResourceListProcessorFunc(setowner.Process)); err != nil {
		os.Exit(1)
	}
}
