// Package images builds forkline's OCI images (the manager and the KRM
// functions) from static Go binaries, with neither a Docker daemon nor a
// network: one layer holding the binary on an empty base, run as a
// non-root user, written as OCI layouts.
package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Registry is where forkline's images are published.
const Registry = "ghcr.io/forkline"

// Spec is one image: its name and the Go package of its binary.
type Spec struct {
	Name    string
	Package string
}

// All are the images a release ships.
var All = []Spec{
	{"manager", "./cmd/manager"},
	{"bump-version", "./functions/bump-version"},
	{"align-images", "./functions/align-images"},
	{"lock-references", "./functions/lock-references"},
}

// nonRoot is the user the images run as (distroless's nonroot).
const nonRoot = "65532:65532"

// Ref is the image's reference at version.
func (s Spec) Ref(version string) (name.Tag, error) {
	return name.NewTag(fmt.Sprintf("%s/%s:%s", Registry, s.Name, version))
}

// Entrypoint is where the binary lives in the image.
func (s Spec) Entrypoint() string { return "/" + s.Name }

// BuildBinary compiles the spec's package as a static linux/amd64 binary
// into dir, from the module at root.
func (s Spec) BuildBinary(root, dir string) (string, error) {
	out := filepath.Join(dir, s.Name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, s.Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", s.Package, err, b)
	}
	return out, nil
}

// Image puts the binary at the spec's entrypoint on an empty base.
// Timestamps are fixed, so the same binary always makes the same digest.
func (s Spec) Image(binary, version string) (ggcrv1.Image, error) {
	content, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: s.Entrypoint()[1:], Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, "application/vnd.oci.image.manifest.v1+json")
	img = mutate.ConfigMediaType(img, "application/vnd.oci.image.config.v1+json")
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Entrypoint = []string{s.Entrypoint()}
	cfg.Config.User = nonRoot
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   "forkline " + s.Name,
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.source":  "https://github.com/forkline/forkline",
	}
	return mutate.ConfigFile(img, cfg)
}

// Built is an image written to disk.
type Built struct {
	Spec   Spec
	Ref    name.Tag
	Digest ggcrv1.Hash
	Dir    string // its OCI layout
}

// BuildAll builds every image at version from the module at root into
// OCI layouts under out (one directory an image).
func BuildAll(root, out, version string) ([]Built, error) {
	bins, err := os.MkdirTemp("", "forkline-images-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(bins)
	var built []Built
	for _, s := range All {
		bin, err := s.BuildBinary(root, bins)
		if err != nil {
			return nil, err
		}
		b, err := s.Write(bin, version, filepath.Join(out, s.Name))
		if err != nil {
			return nil, err
		}
		built = append(built, b)
	}
	return built, nil
}

// Write builds the image from binary and writes it as an OCI layout in
// dir, replacing what was there.
func (s Spec) Write(binary, version, dir string) (Built, error) {
	ref, err := s.Ref(version)
	if err != nil {
		return Built{}, err
	}
	img, err := s.Image(binary, version)
	if err != nil {
		return Built{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Built{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return Built{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return Built{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.String()})); err != nil {
		return Built{}, err
	}
	return Built{Spec: s, Ref: ref, Digest: digest, Dir: dir}, nil
}

// Load reads the image an OCI layout written by Write holds.
func Load(dir string) (ggcrv1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s holds %d images, want 1", dir, len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}
