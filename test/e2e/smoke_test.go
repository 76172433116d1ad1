package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/forkline/forkline/internal/devstack/smoke"
)

// TestSmoke is the whole foundation flow: upstream tags become Published
// revisions, a clone Draft is changed, proposed and approved with porchctl,
// and the downstream git repository holds the published tag with the change.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := smoke.Run(ctx, env, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.UpstreamRevisions, ","); got != "v1.21.2,v1.21.3" {
		t.Errorf("upstream revisions = %s, want v1.21.2,v1.21.3", got)
	}
	// Porch numbers the first approved revision of a package v1.
	if res.Published != "v1" {
		t.Errorf("published revision = %q, want v1", res.Published)
	}
	if !strings.Contains(res.DownstreamTags, "refs/tags/app/v1") {
		t.Errorf("downstream tags lack app/v1:\n%s", res.DownstreamTags)
	}
	if !strings.Contains(res.PublishedManifest, "replicas: 3") || !strings.Contains(res.PublishedManifest, "app:1.21.3") {
		t.Errorf("published manifest should be upstream v1.21.3 with the downstream change:\n%s", res.PublishedManifest)
	}
}
