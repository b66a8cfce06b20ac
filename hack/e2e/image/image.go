// Package image builds container images from local files, with no Docker
// engine and no registry: one layer holding static binaries and the few files
// a container expects, written as a docker-save tarball that `docker load`,
// `ctr images import`, `crane push` and `skopeo copy docker-archive:` all
// read.
//
// [LLMRoute] is the operator's image laid out as the Dockerfile lays it out
// (entrypoint, user, files), which dockerfile_test.go checks against the
// Dockerfile itself.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one entry of the image's single layer.
type File struct {
	// Path is the absolute path in the image.
	Path string
	// Mode holds the permission bits; zero means 0755 for directories and
	// binaries (Source) and 0644 for Data.
	Mode os.FileMode
	// UID and GID own the entry.
	UID, GID int
	// Source is a file on this machine to copy; else Data is the content;
	// with neither, the entry is a directory.
	Source string
	Data   []byte
}

// Spec is what an image holds and how it runs.
type Spec struct {
	Files      []File
	Entrypoint []string
	Cmd        []string
	// User is "UID:GID", as the Dockerfile's USER.
	User       string
	WorkingDir string
	Env        []string
	Labels     map[string]string
}

// The image's files carry this time, so that the same inputs give the same
// layer digest.
var epoch = time.Unix(0, 0).UTC()

// Build makes a single-layer image for this machine's architecture.
func Build(s Spec) (v1.Image, error) {
	layerBytes, err := layerTar(s.Files)
	if err != nil {
		return nil, err
	}
	// The layer is compressed to compute its digest and again to write it:
	// the fastest level makes that a fraction of a second instead of
	// seconds, for a layer a few percent larger.
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "llmroute hack/e2e/image", Created: v1.Time{Time: epoch}},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Cmd = s.Cmd
	cf.Config.User = s.User
	cf.Config.WorkingDir = s.WorkingDir
	cf.Config.Env = s.Env
	cf.Config.Labels = s.Labels
	return mutate.ConfigFile(img, cf)
}

// layerTar writes the files as a tar stream, parents before children, each
// directory once.
func layerTar(files []File) ([]byte, error) {
	entries := map[string]File{}
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			return nil, fmt.Errorf("image path %q is not absolute", f.Path)
		}
		p := path.Clean(f.Path)
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			if _, ok := entries[dir]; !ok {
				entries[dir] = File{Path: dir}
			}
		}
		f.Path = p
		entries[p] = f
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := entries[p]
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		data := f.Data
		switch {
		case f.Source != "":
			b, err := os.ReadFile(f.Source)
			if err != nil {
				return nil, fmt.Errorf("read %s for %s: %w", f.Source, p, err)
			}
			data = b
			hdr.Typeflag, hdr.Mode = tar.TypeReg, modeOr(f.Mode, 0o755)
		case f.Data != nil:
			hdr.Typeflag, hdr.Mode = tar.TypeReg, modeOr(f.Mode, 0o644)
		default:
			hdr.Name += "/"
			hdr.Typeflag, hdr.Mode = tar.TypeDir, modeOr(f.Mode, 0o755)
		}
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// modeOr returns the mode as tar wants it (setuid, setgid and sticky bits
// included), or def when m is zero.
func modeOr(m, def os.FileMode) int64 {
	if m == 0 {
		m = def
	}
	mode := int64(m.Perm())
	if m&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// Write writes img to file as a docker-save tarball whose manifest names it
// tag (such as ghcr.io/osmen-ai/llmroute:v0.1.0).
func Write(file, tag string, img v1.Image) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("image tag %q: %w", tag, err)
	}
	if err := tarball.WriteToFile(file, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// The non-root user of distroless images, which the Dockerfile's USER names.
const (
	NonRootUID = 65532
	NonRootGID = 65532
)

// CACertificates is where the image's trusted CAs are, as in distroless and
// Debian; the sidecar needs them to reach providers over https.
const CACertificates = "/etc/ssl/certs/ca-certificates.crt"

// Base is what gcr.io/distroless/static:nonroot gives a static binary: the
// root, nobody and nonroot users, name resolution through /etc/hosts first,
// the CA certificates (copied from caFile), a world-writable /tmp and the
// mount points a runtime expects. Its environment is in BaseEnv.
func Base(caFile string) []File {
	files := []File{
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "/etc/group", Data: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{Path: "/etc/nsswitch.conf", Data: []byte("hosts: files dns\n")},
		{Path: "/tmp", Mode: os.ModeSticky | 0o777},
		{Path: "/root", Mode: 0o700},
		{Path: "/home/nonroot", Mode: 0o700, UID: NonRootUID, GID: NonRootGID},
	}
	for _, dir := range []string{"/dev", "/proc", "/sys", "/run", "/var"} {
		files = append(files, File{Path: dir})
	}
	if caFile != "" {
		files = append(files, File{Path: CACertificates, Source: caFile, Mode: 0o644})
	}
	return files
}

// BaseEnv is the environment distroless images set.
var BaseEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"SSL_CERT_FILE=" + CACertificates,
}

// Binary returns the spec of an image that runs one static binary as the
// non-root user: the base, the binary at /NAME, and NAME as entrypoint.
func Binary(binary, caFile string) Spec {
	name := "/" + path.Base(binary)
	return Spec{
		Files:      append(Base(caFile), File{Path: name, Source: binary}),
		Entrypoint: []string{name},
		User:       fmt.Sprintf("%d:%d", NonRootUID, NonRootGID),
		WorkingDir: "/",
		Env:        slices.Clone(BaseEnv),
	}
}

// LLMRoute is the operator's image as the Dockerfile builds it: /manager, the
// entrypoint, and /llmroute-sidecar, which the injected sidecar runs, on the
// distroless base, as the non-root user, with the Dockerfile's labels.
func LLMRoute(manager, sidecar, caFile, version string) Spec {
	return Spec{
		Files: append(Base(caFile),
			File{Path: "/manager", Source: manager},
			File{Path: "/llmroute-sidecar", Source: sidecar}),
		Entrypoint: []string{"/manager"},
		User:       fmt.Sprintf("%d:%d", NonRootUID, NonRootGID),
		WorkingDir: "/",
		Env:        slices.Clone(BaseEnv),
		Labels: map[string]string{
			"org.opencontainers.image.title":       "llmroute",
			"org.opencontainers.image.description": "Operator and sidecar that make LLM calls from Kubernetes pods reliable",
			"org.opencontainers.image.source":      "https://github.com/osmen-ai/llmroute",
			"org.opencontainers.image.licenses":    "Apache-2.0",
			"org.opencontainers.image.version":     version,
		},
	}
}
