// Command align-images is the align-images KRM function (see README.md).
package main

import (
	"os"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"

	"github.com/forkline/forkline/functions/align-images/alignimages"
)

func main() {
	if err := fn.AsMain(fn.ResourceListProcessorFunc(alignimages.Process)); err != nil {
		os.Exit(1)
	}
}
