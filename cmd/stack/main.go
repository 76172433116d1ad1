// Command stack builds, starts and stops forkline's local stack (etcd,
// kube-apiserver, porch-server, the function runner, git over HTTP) and runs
// the demo on it.
//
//	stack build             build the stack's binaries into ./bin
//	stack up   [--dir D] [--functions F]  start the stack in the background (F: extra steps)
//	stack down [--dir D]    stop it and every process it started
//	stack demo              start a stack, run the flow, wait for Ctrl-C
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/forkline/forkline/controllers"
	"github.com/forkline/forkline/internal/devstack"
	demoflow "github.com/forkline/forkline/internal/devstack/demo"
	"github.com/forkline/forkline/internal/manager"
	"github.com/forkline/forkline/internal/porch"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", ".stack", "directory for the background stack's data, logs and kubeconfig")
	exit := fs.Bool("exit", false, "demo: stop after the flow instead of waiting for Ctrl-C")
	fnDir := fs.String("functions", "", "a directory of extra step binaries and their functions.yaml, served by the function runner")
	porchVersions := fs.String("porch", devstack.PorchVersion(), "build: the Porch version to build ("+devstack.PorchCurrent+", "+devstack.PorchOlder+" or all); up, demo: set FORKLINE_PORCH")
	_ = fs.Parse(os.Args[2:])
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	if *fnDir != "" {
		if *fnDir, err = filepath.Abs(*fnDir); err != nil {
			fail(err)
		}
		// Read now: a bad directory fails before anything starts.
		if extraFunctions, err = devstack.FunctionsFromDir(*fnDir); err != nil {
			fail(err)
		}
	}
	switch os.Args[1] {
	case "build":
		err = build(*porchVersions)
	case "up":
		err = up(abs, *fnDir)
	case "serve":
		err = serve(abs)
	case "down":
		err = down(abs)
	case "demo":
		err = demo(*exit)
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: stack build | up [--dir D] [--functions F] | down [--dir D] | demo [--exit] [--functions F]")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "stack: %v\n", err)
	os.Exit(1)
}

// extraFunctions are the steps of --functions, served besides forkline's.
var extraFunctions []devstack.Function

func logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func build(porchVersion string) error {
	root, err := devstack.RepoRoot(".")
	if err != nil {
		return err
	}
	versions := []string{porchVersion}
	if porchVersion == "all" {
		versions = []string{devstack.PorchCurrent, devstack.PorchOlder}
	}
	for _, v := range versions {
		bins, err := devstack.EnsureBinaries(root, v, logf)
		if err != nil {
			return err
		}
		logf("stack: binaries ready (%s, %s)", filepath.Dir(bins.KubeAPIServer), filepath.Dir(bins.Porch))
	}
	return nil
}

// state is what a background stack leaves in its directory for `down`.
type state struct {
	PID        int     `json:"pid"`
	Kubeconfig string  `json:"kubeconfig"`
	StartupSec float64 `json:"startupSeconds"`
}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

func readState(dir string) (*state, error) {
	b, err := os.ReadFile(statePath(dir))
	if err != nil {
		return nil, err
	}
	st := &state{}
	return st, json.Unmarshal(b, st)
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// up starts `stack serve` detached in its own session and returns once the
// stack is ready.
func up(dir, fnDir string) error {
	if st, err := readState(dir); err == nil && alive(st.PID) {
		logf("stack: already running (pid %d); KUBECONFIG=%s", st.PID, st.Kubeconfig)
		return nil
	}
	// A fresh stack every time: old etcd data would point at dead ports.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "stack.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"serve", "--dir", dir}
	if fnDir != "" {
		args = append(args, "--functions", fnDir)
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(5 * time.Minute)
	for {
		if st, err := readState(dir); err == nil {
			logf("stack: up in %.1fs (pid %d, logs in %s)", st.StartupSec, st.PID, dir)
			printUsage(st.Kubeconfig)
			logf("stop it with: make stack-down")
			return nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("stack exited before it was ready (%w):\n%s", err, b)
		case <-deadline:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			return fmt.Errorf("stack not ready after 5m; see %s", logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// serve runs the stack in the foreground until SIGTERM or SIGINT.
func serve(dir string) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Options{Dir: dir, Functions: extraFunctions, Logf: logf})
	if err != nil {
		return err
	}
	defer s.Stop()
	b, err := json.Marshal(state{PID: os.Getpid(), Kubeconfig: s.Kubeconfig, StartupSec: s.Startup.Seconds()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(statePath(dir), b, 0o644); err != nil {
		return err
	}
	defer os.Remove(statePath(dir))
	<-ctx.Done()
	logf("stack: stopping")
	return nil
}

// down stops a background stack and waits until its processes are gone.
func down(dir string) error {
	st, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		logf("stack: not running (no %s)", statePath(dir))
		return nil
	}
	if err != nil {
		return err
	}
	if !alive(st.PID) {
		logf("stack: not running (pid %d is gone)", st.PID)
		return os.Remove(statePath(dir))
	}
	_ = syscall.Kill(st.PID, syscall.SIGTERM)
	for i := 0; i < 300 && alive(st.PID); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(st.PID) {
		// Its children die with it (Pdeathsig).
		_ = syscall.Kill(st.PID, syscall.SIGKILL)
	}
	logf("stack: stopped")
	return nil
}

// demo starts a throwaway stack, runs forkline's main job with its output
// visible and keeps everything up for exploring until Ctrl-C.
func demo(exitAfter bool) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Options{Functions: extraFunctions, Logf: logf})
	if err != nil {
		return err
	}
	defer s.Stop()
	// The manager's logs go to a file; the demo prints what a user sees.
	logFile, err := os.Create(filepath.Join(s.Dir, "forkline.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))
	logf("")
	start := func(ctx context.Context) error {
		support := &porch.Support{}
		mgr, err := manager.New(s.Config, manager.Options{MetricsAddr: "0", ProbeAddr: "0", Porch: support})
		if err == nil {
			err = controllers.Setup(ctx, mgr, controllers.Options{Porch: support})
		}
		if err != nil {
			return err
		}
		go func() {
			if err := mgr.Start(ctx); err != nil {
				ctrl.Log.Error(err, "the manager stopped")
			}
		}()
		return nil
	}
	if err := demoflow.Run(ctx, s, start, logf); err != nil {
		return fmt.Errorf("%w\nthe manager's last log lines:\n%s", err, devstack.Tail(logFile.Name(), 40))
	}
	if exitAfter {
		return nil
	}
	printUsage(s.Kubeconfig)
	logf("\n%s\n", demoflow.TagYourself(s))
	logf("forkline keeps running (logs: %s). Ctrl-C stops it, the stack and every process it started.", logFile.Name())
	<-ctx.Done()
	logf("\nstack: stopping")
	return nil
}

func printUsage(kubeconfig string) {
	logf(`
Use it from another shell:
  export KUBECONFIG=%s
  bin/kubectl get upstreampolicies,packagevariants -A
  bin/kubectl describe packagevariant -n demo app-release-4-8-app
  bin/kubectl explain packagevariant.spec.upstream
  bin/porchctl rpkg get --namespace demo`, kubeconfig)
}
