package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pluginPlatforms are the platforms kubectl-forkline is released for.
var pluginPlatforms = [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}

// plugin builds kubectl-forkline for each platform into dist/ as krew
// wants it (a .tar.gz holding the binary and the LICENSE or README), and
// writes dist/kubectl-forkline.yaml, the krew plugin manifest naming each
// archive and its sha256.
func plugin(root, dist, version string) error {
	var platforms []string
	for _, p := range pluginPlatforms {
		goos, goarch := p[0], p[1]
		name := fmt.Sprintf("kubectl-forkline_%s_%s_%s.tar.gz", version, goos, goarch)
		bin := filepath.Join(root, "bin", "plugin", goos+"-"+goarch, "kubectl-forkline")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/forkline/forkline/internal/cli.Version="+version, "-o", bin, "./cmd/kubectl-forkline")
		build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
		build.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
		if err := build.Run(); err != nil {
			return fmt.Errorf("building kubectl-forkline for %s/%s: %w", goos, goarch, err)
		}
		sum, err := archive(filepath.Join(dist, name), map[string]string{"kubectl-forkline": bin, "README.md": filepath.Join(root, "README.md")})
		if err != nil {
			return err
		}
		fmt.Printf("%s sha256:%s\n", filepath.Join(dist, name), sum)
		platforms = append(platforms, fmt.Sprintf(`  - selector:
      matchLabels:
        os: %s
        arch: %s
    uri: https://github.com/forkline/forkline/releases/download/%s/%s
    sha256: %s
    bin: kubectl-forkline
`, goos, goarch, version, name, sum))
	}
	manifest := fmt.Sprintf(`# krew plugin manifest, rendered by make release: kubectl krew install --manifest=kubectl-forkline.yaml
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: forkline
spec:
  version: %s
  homepage: https://github.com/forkline/forkline
  shortDescription: Review and operate forkline's kpt package forks
  description: |
    Shows what a forkline proposal changes and why (per file and per
    resource, attributed to upstream, the variant's steps or a person),
    resolves its conflicts, approves it, and holds, retries, pins, skips
    and suspends variants, with your own credentials only.
  platforms:
%s`, version, strings.Join(platforms, ""))
	out := filepath.Join(dist, "kubectl-forkline.yaml")
	if err := os.WriteFile(out, []byte(manifest), 0o644); err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}

// archive writes files (name in the archive: path on disk) as a .tar.gz
// and returns its sha256.
func archive(path string, files map[string]string) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	gz := gzip.NewWriter(io.MultiWriter(f, h))
	tw := tar.NewWriter(gz)
	for _, name := range []string{"kubectl-forkline", "README.md"} {
		b, err := os.ReadFile(files[name])
		if err != nil {
			return "", err
		}
		mode := int64(0o644)
		if name == "kubectl-forkline" {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(b); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
