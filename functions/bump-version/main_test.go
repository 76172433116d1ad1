package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/forkline/forkline/functions/fntest"
)

// TestExecFunction runs the built binary the way `kpt fn eval --exec` and
// Porch's exec runtime do: a ResourceList on stdin, one on stdout, exit
// status 1 on an error result.
func TestExecFunction(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bump-version")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cases := map[string]struct {
		dir      string
		wantExit int
	}{
		"version bumped":    {dir: "version-from-config", wantExit: 0},
		"bad config fails":  {dir: "bad-config-not-semver", wantExit: 1},
		"version from lock": {dir: "version-from-kptfile", wantExit: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("bumpversion", "testdata", tc.dir)
			input := fntest.ResourceList(t, read(t, filepath.Join(dir, "resources.yaml")), read(t, filepath.Join(dir, "fnconfig.yaml")))
			cmd := exec.Command(bin)
			cmd.Stdin = bytes.NewBufferString(input)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			exit := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				exit = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tc.wantExit {
				t.Errorf("exit status %d, want %d (stderr: %s)", exit, tc.wantExit, stderr.String())
			}
			if diff := cmp.Diff(read(t, filepath.Join(dir, "expected.yaml")), stdout.String()); diff != "" {
				t.Errorf("stdout differs from the golden output (-want +got):\n%s", diff)
			}
		})
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
