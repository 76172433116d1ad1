package manager

import "testing"

// Each shard elects its own leader: distinct selectors get distinct
// leases, the same selector the same lease, and an unsharded manager keeps
// the lease name earlier releases used.
func TestLeaderElectionIDPerShard(t *testing.T) {
	unsharded, a, b := leaderElectionID(""), leaderElectionID("forkline.dev/shard=a"), leaderElectionID("forkline.dev/shard=b")
	if unsharded != "forkline-manager.forkline.dev" {
		t.Errorf("unsharded lease %q, want forkline-manager.forkline.dev", unsharded)
	}
	if a == b || a == unsharded || b == unsharded {
		t.Errorf("leases collide: %q %q %q", unsharded, a, b)
	}
	if again := leaderElectionID("forkline.dev/shard=a"); again != a {
		t.Errorf("the same selector got %q, then %q", a, again)
	}
}
