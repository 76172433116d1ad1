package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/forkline/forkline/test/demo"
)

// TestDemoFlow runs what `make demo` shows, so the README's first command
// cannot rot unnoticed.
func TestDemoFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := demo.Run(ctx, env, t.Logf); err != nil {
		t.Fatal(err)
	}
}
