package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/forkline/forkline/internal/devstack/demo"
	"github.com/forkline/forkline/internal/manager"
)

// TestDemoFlow runs what `make demo` shows, so the README's first command
// cannot rot unnoticed.
func TestDemoFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := func(ctx context.Context) error {
		mgr := newManager(t, managerConfig, manager.Options{})
		go func() { _ = mgr.Start(ctx) }()
		return nil
	}
	if err := demo.Run(ctx, env, start, t.Logf); err != nil {
		t.Fatal(err)
	}
}
