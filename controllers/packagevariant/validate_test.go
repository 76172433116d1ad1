package packagevariant

import (
	"strings"
	"testing"
)

func TestBadMetadata(t *testing.T) {
	for _, tc := range []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		want        string
	}{
		{"fine", map[string]string{"team": "a", "example.com/tier": "web"}, map[string]string{"example.com/note": "anything at all, spaces too"}, ""},
		{"key with a space", map[string]string{"bad key!": "x"}, nil, `spec.labels key "bad key!"`},
		{"value too long", map[string]string{"team": strings.Repeat("v", 300)}, nil, "must be no more than 63 bytes"},
		{"annotation key", nil, map[string]string{"no spaces allowed": "x"}, `spec.annotations key "no spaces allowed"`},
	} {
		got := badMetadata(tc.labels, tc.annotations)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: badMetadata = %q, want %q", tc.name, got, tc.want)
		}
	}
}
