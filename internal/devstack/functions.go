package devstack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// FunctionImageVersion tags the image names forkline's functions are served
// under on the stack.
const FunctionImageVersion = "v0.1.0"

// FunctionNames are forkline's KRM functions (functions/<name>).
var FunctionNames = []string{"bump-version", "align-images", "lock-references"}

// FunctionImage is the image name a Kptfile pipeline uses for a function.
func FunctionImage(name string) string {
	return "ghcr.io/forkline/" + name + ":" + FunctionImageVersion
}

// BuildFunctions builds forkline's functions into bin/functions and returns
// them for the function runner's exec runtime.
func BuildFunctions(root string) ([]Function, error) {
	dir := filepath.Join(root, "bin", "functions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var fns []Function
	for _, name := range FunctionNames {
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, "./functions/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building function %s: %w\n%s", name, err, out)
		}
		fns = append(fns, Function{Image: FunctionImage(name), Binary: bin})
	}
	return fns, nil
}
