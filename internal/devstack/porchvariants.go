package devstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// porchVariantTools are Porch's own PackageVariant and PackageVariantSet
// controllers (tools/porch/variantcontrollers), built from the current
// Porch on demand by the tests that compare forkline with them.
var porchVariantTools = toolset{
	dir:     porchToolDirs[PorchCurrent],
	module:  "github.com/nephio-project/porch",
	name:    "porch-variant-controllers",
	targets: map[string]string{"porch-variant-controllers": "./variantcontrollers"},
}

// PorchVariantControllers are the binary that runs Porch's variant
// controllers and the CRDs of their kinds, from the Porch module pinned.
type PorchVariantControllers struct {
	Binary string
	CRDs   []string
}

// EnsurePorchVariantControllers builds Porch's variant controllers if
// missing (once per Porch version) and finds their CRDs in Porch's module.
func EnsurePorchVariantControllers(root string, logf func(string, ...any)) (PorchVariantControllers, error) {
	unlock, err := lockBin(filepath.Join(root, "bin"))
	if err != nil {
		return PorchVariantControllers{}, err
	}
	defer unlock()
	dir, err := porchVariantTools.build(root, logf)
	if err != nil {
		return PorchVariantControllers{}, err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", porchVariantTools.module)
	cmd.Dir = filepath.Join(root, porchVariantTools.dir)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return PorchVariantControllers{}, fmt.Errorf("finding Porch's module: %w", err)
	}
	bases := filepath.Join(strings.TrimSpace(string(out)), "controllers", "config", "crd", "bases")
	return PorchVariantControllers{
		Binary: filepath.Join(dir, "porch-variant-controllers"),
		CRDs: []string{
			filepath.Join(bases, "config.porch.kpt.dev_packagevariants.yaml"),
			filepath.Join(bases, "config.porch.kpt.dev_packagevariantsets.yaml"),
		},
	}, nil
}

// StartPorchVariantControllers installs the CRDs of Porch's PackageVariant
// and PackageVariantSet and runs Porch's controllers for them against the
// stack, logging to porch-variant-controllers.log; stop ends them (the
// CRDs stay, as on a cluster that ran them).
func (s *Stack) StartPorchVariantControllers(ctx context.Context) (stop func(), err error) {
	pvc, err := EnsurePorchVariantControllers(s.Root, s.logf)
	if err != nil {
		return nil, err
	}
	for _, crd := range pvc.CRDs {
		if out, err := s.Kubectl(ctx, "apply", "--server-side", "-f", crd); err != nil {
			return nil, fmt.Errorf("installing %s: %w\n%s", filepath.Base(crd), err, out)
		}
	}
	if out, err := s.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/packagevariants.config.porch.kpt.dev", "crd/packagevariantsets.config.porch.kpt.dev"); err != nil {
		return nil, fmt.Errorf("waiting for Porch's variant CRDs: %w\n%s", err, out)
	}
	p, err := s.start("porch-variant-controllers", pvc.Binary, "--kubeconfig", s.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return func() {
		p.stop(5 * time.Second)
		s.procs = slices.DeleteFunc(s.procs, func(q *process) bool { return q == p })
	}, nil
}
