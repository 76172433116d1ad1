package cli

import (
	"runtime/debug"

	"github.com/spf13/cobra"
)

func (o *options) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "The plugin's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			commit := ""
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						commit = " (" + s.Value + ")"
					}
				}
			}
			say(o.Out, "kubectl-forkline %s%s", Version, commit)
			return nil
		},
	}
}
