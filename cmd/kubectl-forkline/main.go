// kubectl-forkline is the kubectl plugin for forkline: kubectl forkline
// get, tree, diff, conflicts, resolve, approve and the day-2 actions.
// Installed on the PATH, kubectl finds it as `kubectl forkline`.
package main

import (
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/forkline/forkline/internal/cli"
)

func main() {
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
