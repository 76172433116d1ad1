package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/forkline/forkline/functions/fntest"
)

// TestImagesSurviveARegistry builds every image as `make images` does,
// pushes each to a registry (in process, on loopback), pulls it back by
// digest and checks what a runtime would: the entrypoint, a non-root user,
// and, for a function, that its binary turns a ResourceList into one.
func TestImagesSurviveARegistry(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	built, err := BuildAll(root, t.TempDir(), "v0.0.0-test")
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	u, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	for _, b := range built {
		t.Run(b.Spec.Name, func(t *testing.T) {
			img, err := Load(b.Dir)
			if err != nil {
				t.Fatal(err)
			}
			pushed, err := name.NewTag(host+"/forkline/"+b.Spec.Name+":v0.0.0-test", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(pushed, img); err != nil {
				t.Fatalf("pushing: %v", err)
			}
			byDigest, err := name.NewDigest(host+"/forkline/"+b.Spec.Name+"@"+b.Digest.String(), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			pulled, err := remote.Image(byDigest)
			if err != nil {
				t.Fatalf("pulling %s: %v", byDigest, err)
			}
			if d, _ := pulled.Digest(); d != b.Digest {
				t.Fatalf("pulled digest %s, built %s", d, b.Digest)
			}
			cfg, err := pulled.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Config.Entrypoint, []string{b.Spec.Entrypoint()}) || cfg.Config.User != nonRoot || cfg.OS != "linux" {
				t.Errorf("entrypoint %v, user %q, os %q; want [%s], %q, linux", cfg.Config.Entrypoint, cfg.Config.User, cfg.OS, b.Spec.Entrypoint(), nonRoot)
			}
			bin := extract(t, pulled, b.Spec.Entrypoint())
			if b.Spec.Name == "manager" {
				return
			}
			runFunction(t, bin)
		})
	}
}

// extract writes the file at path in the image's filesystem to disk.
func extract(t *testing.T, img ggcrv1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s is not in the image", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if "/"+strings.TrimPrefix(hdr.Name, "/") != path {
			continue
		}
		if hdr.Mode&0o111 == 0 {
			t.Errorf("%s is not executable (mode %o)", path, hdr.Mode)
		}
		out := filepath.Join(t.TempDir(), filepath.Base(path))
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// runFunction runs a function binary as Porch's exec runtime does and
// checks it answers with a ResourceList.
func runFunction(t *testing.T, bin string) {
	t.Helper()
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27.0\n"
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(fntest.ResourceList(t, deployment, ""))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %s: %v", bin, err)
	}
	if !strings.Contains(stdout.String(), "kind: ResourceList") {
		t.Errorf("%s answered no ResourceList (stderr %s):\n%s", filepath.Base(bin), stderr.String(), stdout.String())
	}
}
