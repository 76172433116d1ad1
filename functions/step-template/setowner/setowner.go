// Package setowner labels every resource of a package with the team that
// owns it (label owner: <team>), the team read from the function's config.
// It is the smallest useful step: read a config, change resources, report
// a bad config as an error result tied to the config object.
package setowner

import (
	"fmt"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"
)

// Label is the label the step sets.
const Label = "owner"

// Process is the step: a ResourceList in, the same list labelled out.
func Process(rl *fn.ResourceList) (bool, error) {
	team := ""
	if rl.FunctionConfig != nil {
		team, _, _ = rl.FunctionConfig.NestedString("data", "team")
	}
	if team == "" {
		rl.Results = append(rl.Results, fn.ConfigObjectResult("set-owner needs data.team in its ConfigMap", rl.FunctionConfig, fn.Error))
		return false, nil
	}
	labelled := 0
	for _, o := range rl.Items {
		// Local config (the Kptfile, forkline's conflicts file) is not
		// deployed: leave it alone.
		if o.IsLocalConfig() {
			continue
		}
		if err := o.SetLabel(Label, team); err != nil {
			return false, err
		}
		labelled++
	}
	rl.Results = append(rl.Results, fn.GeneralResult(fmt.Sprintf("labelled %d resource(s) %s=%s", labelled, Label, team), fn.Info))
	return true, nil
}
