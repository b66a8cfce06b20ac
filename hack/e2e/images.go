package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/osmen-ai/llmroute/hack/e2e/image"
)

// hostCAFile is the CA bundle the images trust, as distroless ships it.
const hostCAFile = "/etc/ssl/certs/ca-certificates.crt"

// goBuildStatic builds packages into dir as static binaries, with the flags
// the Dockerfile uses, plus ldflags.
func goBuildStatic(ctx context.Context, dir, ldflags string, pkgs ...string) error {
	args := append([]string{"build", "-trimpath", "-ldflags", "-s -w " + ldflags, "-o", dir + "/"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// The images of the suite's fixtures. They never leave the node, so their
// names are local ones; nothing tries to pull them (imagePullPolicy Never).
const (
	pauseImage   = "localhost/llmroute-e2e/pause:e2e"
	corednsImage = "localhost/llmroute-e2e/coredns:e2e"
	mockllmImage = "localhost/llmroute-e2e/mockllm:e2e"
	appImage     = "localhost/llmroute-e2e/app:e2e"
)

// buildImages builds the fixtures' images as tarballs in the state
// directory: the sandbox's pause, CoreDNS, the mock providers and the app
// that calls through the sidecar with the official SDKs.
func (c *cluster) buildImages(ctx context.Context) error {
	build := filepath.Join(c.state, "build")
	out := filepath.Join(c.state, "images")
	for _, d := range []string{build, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := goBuildStatic(ctx, build, "", "./hack/e2e/pause", "./hack/mockllm", "./test/e2e/app"); err != nil {
		return err
	}
	ca := ""
	if _, err := os.Stat(hostCAFile); err == nil {
		ca = hostCAFile
	}
	for _, im := range []struct{ role, tag, binary string }{
		{"pause", pauseImage, filepath.Join(build, "pause")},
		{"coredns", corednsImage, filepath.Join(c.bin, "coredns", "coredns")},
		{"mockllm", mockllmImage, filepath.Join(build, "mockllm")},
		{"app", appImage, filepath.Join(build, "app")},
	} {
		img, err := image.Build(image.Binary(im.binary, ca))
		if err != nil {
			return fmt.Errorf("image %s: %w", im.tag, err)
		}
		if err := image.Write(filepath.Join(out, im.role+".tar"), im.tag, img); err != nil {
			return err
		}
		c.images[im.role] = im.tag
	}
	return nil
}

// imageCommand is `e2e image`: the operator's image as the Dockerfile builds
// it, without Docker, as a tarball to import or push.
func imageCommand(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	out := fs.String("o", "", "the tarball to write")
	tag := fs.String("tag", "", "the image's name and tag, e.g. ghcr.io/osmen-ai/llmroute:v0.1.0")
	version := fs.String("version", "dev", "the version built into the binaries and the image's label")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *tag == "" || fs.NArg() > 0 {
		return errors.New("usage: e2e image -o FILE -tag IMAGE [-version V]")
	}
	if _, err := os.Stat(hostCAFile); err != nil {
		return fmt.Errorf("the image needs the CA certificates the sidecar trusts: %w (install ca-certificates)", err)
	}
	tmp, err := os.MkdirTemp("", "llmroute-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := goBuildStatic(context.Background(), tmp, "-X main.version="+*version, ".", "./sidecar"); err != nil {
		return err
	}
	// go build names the root package's binary after the module's last
	// element; the Dockerfile names it manager.
	manager := filepath.Join(tmp, "manager")
	if err := os.Rename(filepath.Join(tmp, "llmroute"), manager); err != nil {
		return err
	}
	sidecar := filepath.Join(tmp, "llmroute-sidecar")
	if err := os.Rename(filepath.Join(tmp, "sidecar"), sidecar); err != nil {
		return err
	}
	img, err := image.Build(image.LLMRoute(manager, sidecar, hostCAFile, *version))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := image.Write(*out, *tag, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %s (%s)\n", *out, *tag, digest)
	return nil
}
