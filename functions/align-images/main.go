// Command align-images is the align-images KRM function (see README.md).
package main

import (
	"os"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"

	"github.com/forkline/forkline/functions/align-images/alignimages"
	"github.com/forkline/forkline/functions/internal/krm"
)

func main() {
	if err := fn.AsMain(krm.WithErrorSummary(alignimages.Process)); err != nil {
		os.Exit(1)
	}
}
