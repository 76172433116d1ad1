package packagevariant

import (
	"fmt"
	"path"
	"strings"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
)

// renderFailed prefixes the recorded render summary of a draft whose
// pipeline failed.
const renderFailed = "Failed: "

// renderSummary is what a person needs of Porch's render of a draft: that
// it failed and why, or the validators' and mutators' findings counted by
// severity with the first few.
func renderSummary(rs porchv1alpha1.RenderStatus) string {
	if rs.Err != "" {
		return renderFailed + firstLine(rs.Err)
	}
	counts := map[string]int{}
	var first []string
	for _, fn := range rs.Result.Items {
		if fn == nil {
			continue
		}
		for _, item := range fn.Results {
			sev := item.Severity
			if sev == "" {
				sev = "info"
			}
			counts[sev]++
			if sev != "info" && len(first) < 3 {
				first = append(first, fmt.Sprintf("%s: %s", path.Base(fn.Image+fn.ExecPath), firstLine(item.Message)))
			}
		}
	}
	var parts []string
	for _, sev := range []string{"error", "warning", "info"} {
		if n := counts[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s(s)", n, sev))
		}
	}
	if len(parts) == 0 {
		return "OK"
	}
	out := "OK: " + strings.Join(parts, ", ")
	if len(first) > 0 {
		out += "; " + strings.Join(first, "; ")
	}
	return out
}
