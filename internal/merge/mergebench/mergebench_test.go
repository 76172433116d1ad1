package mergebench

import (
	"fmt"
	"testing"

	"github.com/forkline/forkline/internal/merge"
)

// TestEngineAgreesWithKyaml checks, on a generated conflict-free package,
// that forkline's engine and kyaml's merge3 give the same result resource by
// resource, so the benchmark compares equal work.
func TestEngineAgreesWithKyaml(t *testing.T) {
	b, u, d := Package(200)
	ours, err := merge.Merge(b, u, d, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ours.Conflicts) > 0 {
		t.Fatalf("the generated package should merge cleanly; conflicts: %v", ours.Conflicts)
	}
	theirs, err := KyamlMerge3(b, u, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(ours.Tree) != len(theirs) {
		t.Fatalf("forkline wrote %d files, kyaml %d", len(ours.Tree), len(theirs))
	}
	for p := range theirs {
		same, err := merge.SameContent(p, theirs[p], ours.Tree[p])
		if err != nil {
			t.Fatal(err)
		}
		if !same {
			t.Errorf("%s differs:\nkyaml:\n%s\nforkline:\n%s", p, theirs[p], ours.Tree[p])
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	for _, n := range []int{100, 1000} {
		base, up, down := Package(n)
		b.Run(name("forkline", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := merge.Merge(base, up, down, merge.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name("kyaml-merge3", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := KyamlMerge3(base, up, down); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func name(engine string, n int) string { return fmt.Sprintf("%s/%d", engine, n) }
