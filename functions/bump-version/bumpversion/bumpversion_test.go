package bumpversion

import (
	"testing"

	"github.com/forkline/forkline/functions/fntest"
)

func TestGolden(t *testing.T) { fntest.RunGolden(t, "testdata", Process) }
