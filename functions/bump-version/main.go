// Command bump-version is the bump-version KRM function (see README.md).
package main

import (
	"os"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"

	"github.com/forkline/forkline/functions/bump-version/bumpversion"
)

func main() {
	if err := fn.AsMain(fn.ResourceListProcessorFunc(bumpversion.Process)); err != nil {
		os.Exit(1)
	}
}
