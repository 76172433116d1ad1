// Package e2e drives the real local stack (kube-apiserver, porch-server, the
// function runner and git over HTTP) the way a person would.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/forkline/forkline/test/stack"
)

// env is the stack every test in this package shares.
var env *stack.Stack

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The controllers' logs go to the test output, for whoever reads a failure.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	logf := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	s, err := stack.Start(context.Background(), stack.Options{Logf: logf})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local stack: %v\n", err)
		return 1
	}
	defer s.Stop()
	defer s.StopOnInterrupt()()
	env = s
	return m.Run()
}
