package setowner

import (
	"testing"

	"github.com/forkline/forkline/functions/fntest"
)

// Each testdata/<case>/ holds resources.yaml, fnconfig.yaml and the whole
// expected output ResourceList; `go test ./functions/... -update` rewrites
// expected.yaml after a deliberate change (review the diff).
func TestGolden(t *testing.T) { fntest.RunGolden(t, "testdata", Process) }
