package packagevariant

import "testing"

func TestAcceptsMove(t *testing.T) {
	const commit = "135ab58b95e6448fb2466c18c3327577844d7bd7"
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"app/v1.0.1", true},
		{" app/v1.0.1 ", true},
		{"app/v1.0.1@135ab58b95e6", true},
		{"app/v1.0.1@" + commit, true},
		{"app/v1.0.1@135ab58", true},
		{"app/v1.0.1@135ab5", false}, // too short to name a commit
		{"app/v1.0.1@010d22f96504", false},
		{"app/v1.0.2", false},
		{"v1.0.1", false},
		{"", false},
	} {
		if got := acceptsMove(tc.value, "app/v1.0.1", commit); got != tc.want {
			t.Errorf("acceptsMove(%q) = %v, want %v", tc.value, got, tc.want)
		}
	}
}
