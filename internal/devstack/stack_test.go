package devstack

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestStopLeavesNothingRunning starts a whole stack and checks that Stop
// ends every process it started and removes its temporary directory.
func TestStopLeavesNothingRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	pids, dir := s.PIDs(), s.Dir
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "function-runner", "porch-server"} {
		pid, ok := pids[name]
		if !ok {
			t.Errorf("stack did not start %s", name)
			continue
		}
		if err := syscall.Kill(pid, 0); err != nil {
			t.Errorf("%s (pid %d) is not running after Start: %v", name, pid, err)
		}
	}
	s.Stop()
	for name, pid := range pids {
		// The process is reaped by Stop, so signal 0 must find nothing.
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("%s (pid %d) still running after Stop", name, pid)
		}
		if err := syscall.Kill(-pid, 0); err == nil {
			t.Errorf("process group of %s (%d) still has members after Stop", name, pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("stack directory %s still exists after Stop (err %v)", dir, err)
	}
	s.Stop() // a second Stop is harmless
}

func TestRequiredVersion(t *testing.T) {
	dir := t.TempDir()
	goMod := dir + "/go.mod"
	content := "module x\n\nrequire k8s.io/other v0.1.0\n\nrequire (\n\tk8s.io/kubernetes v1.36.3 // indirect\n)\n\nreplace k8s.io/api => k8s.io/api v0.36.3\n"
	if err := os.WriteFile(goMod, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		module  string
		want    string
		wantErr bool
	}{
		"single-line require": {module: "k8s.io/other", want: "v0.1.0"},
		"inside a block":      {module: "k8s.io/kubernetes", want: "v1.36.3"},
		"absent module":       {module: "k8s.io/missing", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := requiredVersion(goMod, tc.module)
			if (err != nil) != tc.wantErr {
				t.Fatalf("requiredVersion() error = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("requiredVersion() = %q, want %q", got, tc.want)
			}
		})
	}
}
