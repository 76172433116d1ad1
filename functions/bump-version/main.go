// Command bump-version is the bump-version KRM function (see README.md).
package main

import (
	"os"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"

	"github.com/forkline/forkline/functions/bump-version/bumpversion"
	"github.com/forkline/forkline/functions/internal/krm"
)

func main() {
	if err := fn.AsMain(krm.WithErrorSummary(bumpversion.Process)); err != nil {
		os.Exit(1)
	}
}
