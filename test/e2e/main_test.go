// Package e2e drives the real local stack (kube-apiserver, porch-server, the
// function runner and git over HTTP) the way a person would.
package e2e

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/forkline/forkline/internal/devstack"
)

// env is the stack every test in this package shares.
var env *devstack.Stack

// managerConfig authenticates as forkline's ServiceAccount, bound to the
// ClusterRole in config/rbac; forbidden counts the 403s it was answered.
var (
	managerConfig *rest.Config
	forbidden     *atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The controllers' logs go to the test output, for whoever reads a
	// failure; FORKLINE_E2E_DEBUG=1 adds their debug lines (what woke a
	// variant).
	logOpts := []zap.Opts{zap.WriteTo(os.Stderr)}
	if os.Getenv("FORKLINE_E2E_DEBUG") != "" {
		logOpts = append(logOpts, zap.Level(zapcore.DebugLevel))
	}
	ctrl.SetLogger(zap.New(logOpts...))
	logf := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	// A step author's function, served the way `make stack-up
	// FUNCTIONS=dir` serves one (TestAuthorsStepRendersInADraft).
	authorSteps, err := buildAuthorsStep()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the step template: %v\n", err)
		return 1
	}
	defer os.RemoveAll(authorSteps)
	extra, err := devstack.FunctionsFromDir(authorSteps)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	s, err := devstack.Start(context.Background(), devstack.Options{Functions: extra, Logf: logf})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local stack: %v\n", err)
		return 1
	}
	defer s.Stop()
	defer s.StopOnInterrupt()()
	env = s
	if managerConfig, forbidden, err = s.ManagerIdentity(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "installing forkline's RBAC: %v\n", err)
		return 1
	}
	code := m.Run()
	if code != 0 || os.Getenv("FORKLINE_KEEP_LOGS") != "" {
		// porch-server's log is most often what explains a failure.
		if kept, err := s.KeepLogs(); err == nil {
			fmt.Printf("stack: the logs of this run are kept in %s\n", kept)
		}
	}
	return code
}
