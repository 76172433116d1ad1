// Command merge measures forkline's merge engine against kyaml's merge3 (the
// merge behind Porch's resource-merge) on the same generated packages, in
// one run, and prints the ratios: time, allocations, and time per resource
// across sizes (linearity).
//
//	go run ./bench/merge [-sizes 100,1000,10000]
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/merge/mergebench"
)

func main() {
	sizes := flag.String("sizes", "100,1000,10000", "package sizes in resources")
	flag.Parse()

	fmt.Printf("%-9s %14s %14s %7s %12s %12s %7s %14s\n",
		"resources", "forkline", "kyaml merge3", "time x", "forkline", "kyaml", "alloc x", "forkline/res")
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad size %q\n", s)
			os.Exit(2)
		}
		base, up, down := mergebench.Package(n)
		ours := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := merge.Merge(base, up, down, merge.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		theirs := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := mergebench.KyamlMerge3(base, up, down); err != nil {
					b.Fatal(err)
				}
			}
		})
		fmt.Printf("%-9d %12.2fms %12.2fms %7.2f %12d %12d %7.2f %12.1fµs\n", n,
			ms(ours), ms(theirs), float64(ours.NsPerOp())/float64(theirs.NsPerOp()),
			ours.AllocsPerOp(), theirs.AllocsPerOp(), float64(ours.AllocsPerOp())/float64(theirs.AllocsPerOp()),
			float64(ours.NsPerOp())/float64(n)/1e3)
	}
	fmt.Println("time x and alloc x are forkline / kyaml (below 1 is faster); forkline also detects conflicts.")

	// The audit every merge passes before forkline writes it, against the
	// merge's own time (target: at most 0.25).
	fmt.Printf("\n%-9s %12s %12s %7s\n", "resources", "merge", "audit", "audit x")
	for _, s := range strings.Split(*sizes, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		base, up, down := mergebench.Package(n)
		res, err := merge.Merge(base, up, down, merge.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		merged := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := merge.Merge(base, up, down, merge.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		audited := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := merge.Audit(res); err != nil {
					b.Fatal(err)
				}
			}
		})
		fmt.Printf("%-9d %10.2fms %10.2fms %7.2f\n", n, ms(merged), ms(audited), float64(audited.NsPerOp())/float64(merged.NsPerOp()))
	}
	fmt.Println("audit x is the audit's time / the merge's; the audit runs after every merge, before anything is written.")

	// Reading a package: forkline's own reader (it keeps each document's
	// text, for byte-for-byte output) against kio.ByteReader.
	base, _, _ := mergebench.Package(10000)
	ours := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := merge.Parse(base); err != nil {
				b.Fatal(err)
			}
		}
	})
	theirs := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := mergebench.KioRead(base); err != nil {
				b.Fatal(err)
			}
		}
	})
	fmt.Printf("reading 10000 resources: forkline %.2fms, kio.ByteReader %.2fms (time x %.2f, alloc x %.2f)\n",
		ms(ours), ms(theirs), float64(ours.NsPerOp())/float64(theirs.NsPerOp()), float64(ours.AllocsPerOp())/float64(theirs.AllocsPerOp()))
}

func ms(r testing.BenchmarkResult) float64 { return float64(r.NsPerOp()) / 1e6 }
