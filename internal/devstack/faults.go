package devstack

import (
	"context"
	"fmt"
	"slices"
	"syscall"
)

// KillPorch SIGKILLs porch-server, as a crashed pod is killed. Porch's API
// is unavailable through kube-apiserver until RestartPorch.
func (s *Stack) KillPorch() error {
	p := s.porch
	if p == nil {
		return fmt.Errorf("porch-server is not running")
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	s.procs = slices.DeleteFunc(s.procs, func(q *process) bool { return q == p })
	s.porch = nil
	return nil
}

// RestartPorch starts porch-server again on its old port, where the
// APIService points, and waits until its API answers.
func (s *Stack) RestartPorch(ctx context.Context) error {
	if s.porch != nil {
		return fmt.Errorf("porch-server is running")
	}
	return s.startPorch(ctx)
}
