package devstack

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// toolset is a group of binaries built from one tool module.
type toolset struct {
	dir     string            // tool module directory, relative to the repo root
	module  string            // the module whose version keys the build
	name    string            // prefix of the ./bin directory
	targets map[string]string // binary name -> package path
}

var (
	k8sTools = toolset{
		dir:    "tools/k8s",
		module: "k8s.io/kubernetes",
		name:   "stack-k8s",
		targets: map[string]string{
			"etcd":                    "go.etcd.io/etcd/server/v3",
			"kube-apiserver":          "k8s.io/kubernetes/cmd/kube-apiserver",
			"kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
			"kubectl":                 "k8s.io/kubernetes/cmd/kubectl",
		},
	}
)

// Porch versions the stack runs: the current one by default, and the older
// one platform teams upgrade from, each pinned by its own tool module.
const (
	PorchCurrent = "v1.5.8"
	PorchOlder   = "v1.3.0"
)

// porchToolDirs are the tool modules that pin a Porch, by the version they pin.
var porchToolDirs = map[string]string{PorchCurrent: "tools/porch", PorchOlder: "tools/porch-v1.3"}

// PorchVersion is the Porch the stack runs: $FORKLINE_PORCH, else the
// current one.
func PorchVersion() string {
	if v := os.Getenv("FORKLINE_PORCH"); v != "" {
		return v
	}
	return PorchCurrent
}

// porchTools are porch-server, porchctl and the function runner at version.
func porchTools(version string) (toolset, error) {
	dir, ok := porchToolDirs[version]
	if !ok {
		return toolset{}, fmt.Errorf("the stack runs Porch %s or %s, not %q (FORKLINE_PORCH)", PorchCurrent, PorchOlder, version)
	}
	return toolset{
		dir:    dir,
		module: "github.com/nephio-project/porch",
		name:   "stack-porch",
		targets: map[string]string{
			"porch":           "github.com/nephio-project/porch/cmd/porch",
			"porchctl":        "github.com/nephio-project/porch/cmd/porchctl",
			"function-runner": "github.com/nephio-project/porch/func/server",
		},
	}, nil
}

// promTools is promtool, which checks the alerting rules forkline ships;
// built on demand by the test that runs it, not by the stack.
var promTools = toolset{
	dir:     "tools/prometheus",
	module:  "github.com/prometheus/prometheus",
	name:    "promtool",
	targets: map[string]string{"promtool": "github.com/prometheus/prometheus/cmd/promtool"},
}

// Binaries are the paths of the stack's executables.
type Binaries struct {
	Etcd, KubeAPIServer, KubeControllerManager, Kubectl string
	Porch, Porchctl, FunctionRunner                     string
	// PorchVersion is the version Porch's binaries were built at.
	PorchVersion string
}

// EnsureBinaries builds whatever stack binary is missing at its pinned
// version, Porch at porchVersion, and returns where they all are.
// Concurrent callers (parallel test packages) serialize on a lock file so
// each binary is built once.
func EnsureBinaries(root, porchVersion string, logf func(string, ...any)) (Binaries, error) {
	porch, err := porchTools(porchVersion)
	if err != nil {
		return Binaries{}, err
	}
	binDir := filepath.Join(root, "bin")
	unlock, err := lockBin(binDir)
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()

	paths := map[string]string{}
	for _, ts := range []toolset{k8sTools, porch} {
		dir, err := ts.build(root, logf)
		if err != nil {
			return Binaries{}, err
		}
		for name := range ts.targets {
			paths[name] = filepath.Join(dir, name)
		}
	}
	// Stable names for people at a shell: bin/kubectl, bin/porchctl.
	for _, name := range []string{"kubectl", "porchctl"} {
		link := filepath.Join(binDir, name)
		_ = os.Remove(link)
		if err := os.Symlink(paths[name], link); err != nil {
			return Binaries{}, err
		}
	}
	return Binaries{
		Etcd: paths["etcd"], KubeAPIServer: paths["kube-apiserver"],
		KubeControllerManager: paths["kube-controller-manager"], Kubectl: paths["kubectl"],
		Porch: paths["porch"], Porchctl: paths["porchctl"], FunctionRunner: paths["function-runner"],
		PorchVersion: porchVersion,
	}, nil
}

// EnsurePromtool builds promtool at its pinned version if missing and
// returns its path.
func EnsurePromtool(root string, logf func(string, ...any)) (string, error) {
	unlock, err := lockBin(filepath.Join(root, "bin"))
	if err != nil {
		return "", err
	}
	defer unlock()
	dir, err := promTools.build(root, logf)
	return filepath.Join(dir, "promtool"), err
}

// lockBin serializes builds into binDir across processes (parallel test
// packages), so each binary is built once.
func lockBin(binDir string) (unlock func(), err error) {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(binDir, ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	return func() {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	}, nil
}

// build makes bin/<name>-<version>/ hold every target, building into a
// scratch directory first so an interrupted build never looks finished.
func (ts toolset) build(root string, logf func(string, ...any)) (string, error) {
	modDir := filepath.Join(root, ts.dir)
	version, err := requiredVersion(filepath.Join(modDir, "go.mod"), ts.module)
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "bin", ts.name+"-"+version)
	if ts.complete(out) {
		return out, nil
	}
	for name, pkg := range ts.targets {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			continue
		}
		logf("building %s from %s@%s (once per version; a cold build takes a few minutes)", name, ts.module, version)
		scratch, err := os.MkdirTemp(filepath.Join(root, "bin"), ".build-")
		if err != nil {
			return "", err
		}
		target := filepath.Join(scratch, name)
		cmd := exec.Command("go", "build", "-o", target, pkg)
		cmd.Dir = modDir
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if msg, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(scratch)
			return "", fmt.Errorf("building %s in %s: %w\n%s", pkg, ts.dir, err, msg)
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return "", err
		}
		if err := os.Rename(target, filepath.Join(out, name)); err != nil {
			return "", err
		}
		os.RemoveAll(scratch)
	}
	return out, nil
}

func (ts toolset) complete(dir string) bool {
	for name := range ts.targets {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// requiredVersion reads the version a go.mod requires of a module.
func requiredVersion(goMod, module string) (string, error) {
	f, err := os.Open(goMod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s does not require %s", goMod, module)
}

// RepoRoot finds the forkline checkout containing dir.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			strings.HasPrefix(string(b), "module github.com/forkline/forkline\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no forkline checkout above %s", dir)
		}
	}
}
