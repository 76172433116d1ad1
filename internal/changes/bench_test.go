package changes

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkCompareBigPackage compares a 5 MB package of 5,000 ConfigMaps
// in 50 files whose release changed a tenth of them, as a big upgrade's
// proposal is counted.
func BenchmarkCompareBigPackage(b *testing.B) {
	pkg := func(changed string) map[string]string {
		files := map[string]string{}
		filler := strings.Repeat("x", 920)
		for f := range 50 {
			var sb strings.Builder
			for i := range 100 {
				n := f*100 + i
				v := "1.0.0"
				if n < 500 {
					v = changed
				}
				fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  version: %s\n  filler: %s\n", n, v, filler)
			}
			files[fmt.Sprintf("cm-%02d.yaml", f)] = sb.String()
		}
		return files
	}
	from, to := pkg("1.0.0"), pkg("1.1.0")
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Compare(Inputs{Published: from, Proposed: to, UpstreamFrom: from, UpstreamTo: to})
		if err != nil || rep.Counts().ResourcesChanged != 500 {
			b.Fatalf("%v %+v", err, rep.Counts())
		}
	}
}
