package devstack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"sigs.k8s.io/yaml"
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

// FunctionsConfig is the file in a directory of step binaries that says
// which image each serves, in the function runner's own format:
//
//	functions:
//	- function: set-owner            # an executable in the directory
//	  images: [example.com/set-owner:v1]
const FunctionsConfig = "functions.yaml"

// FunctionsFromDir reads a directory of extra step binaries (`make stack-up
// FUNCTIONS=dir`): its functions.yaml maps each executable to the image
// names Kptfile pipelines use for it.
func FunctionsFromDir(dir string) ([]Function, error) {
	b, err := os.ReadFile(filepath.Join(dir, FunctionsConfig))
	if err != nil {
		return nil, fmt.Errorf("reading the functions directory's %s: %w", FunctionsConfig, err)
	}
	var cfg struct {
		Functions []struct {
			Function string   `json:"function"`
			Images   []string `json:"images"`
		} `json:"functions"`
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FunctionsConfig), err)
	}
	var fns []Function
	for _, f := range cfg.Functions {
		bin := filepath.Join(dir, f.Function)
		if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("%s names %q, which is not an executable in %s", FunctionsConfig, f.Function, dir)
		}
		if len(f.Images) == 0 {
			return nil, fmt.Errorf("%s: function %q has no images", FunctionsConfig, f.Function)
		}
		for _, image := range f.Images {
			fns = append(fns, Function{Image: image, Binary: bin})
		}
	}
	return fns, nil
}
