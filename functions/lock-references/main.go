// Command lock-references is the lock-references KRM function (see README.md).
package main

import (
	"os"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"

	"github.com/forkline/forkline/functions/internal/krm"
	"github.com/forkline/forkline/functions/lock-references/lockrefs"
)

func main() {
	if err := fn.AsMain(krm.WithErrorSummary(lockrefs.Process)); err != nil {
		os.Exit(1)
	}
}
