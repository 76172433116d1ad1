package lockrefs

import (
	"testing"

	"github.com/forkline/forkline/functions/internal/fntest"
)

func TestGolden(t *testing.T) { fntest.RunGolden(t, "testdata", Process) }
