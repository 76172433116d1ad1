package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/forkline/forkline/internal/manager"
)

// TestManagerServesHealth starts the manager against the stack, with leader
// election, and checks its probes answer.
func TestManagerServesHealth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probe := freeAddr(t)
	mgr := newManager(t, managerConfig, manager.Options{
		ProbeAddr: probe, LeaderElection: true, LeaderElectionNamespace: "forkline-system",
	})
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	for _, path := range []string{"/healthz", "/readyz"} {
		url := fmt.Sprintf("http://%s%s", probe, path)
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			resp, err := http.Get(url)
			if err != nil {
				return false, nil
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, nil
		})
		if err != nil {
			t.Fatalf("%s never answered 200: %v", url, err)
		}
	}
	select {
	case <-mgr.Elected():
	case <-time.After(30 * time.Second):
		t.Fatal("the manager did not win leader election against the stack")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("manager stopped with an error: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
