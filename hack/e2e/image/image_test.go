package image

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// dockerfileStage is the last stage of a Dockerfile: what the image is.
type dockerfileStage struct {
	from       string
	workdir    string
	user       string
	entrypoint []string
	copies     []string // destinations of COPY --from=builder
	labels     map[string]string
}

// parseFinalStage reads the instructions of the Dockerfile's last stage that
// shape the image; ARG values are substituted.
func parseFinalStage(t *testing.T, file string, args map[string]string) dockerfileStage {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var st dockerfileStage
	subst := regexp.MustCompile(`\$\{?(\w+)\}?`)
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(subst.ReplaceAllStringFunc(rest, func(m string) string {
			return args[subst.FindStringSubmatch(m)[1]]
		}))
		switch strings.ToUpper(instr) {
		case "FROM":
			st = dockerfileStage{from: strings.Fields(rest)[0], labels: map[string]string{}}
		case "WORKDIR":
			st.workdir = rest
		case "USER":
			st.user = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &st.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: want the JSON form: %v", rest, err)
			}
		case "COPY":
			f := strings.Fields(rest)
			if strings.HasPrefix(f[0], "--from=") {
				st.copies = append(st.copies, f[len(f)-1])
			}
		case "LABEL":
			for _, m := range regexp.MustCompile(`([\w.-]+)="([^"]*)"`).FindAllStringSubmatch(rest, -1) {
				st.labels[m[1]] = m[2]
			}
		}
	}
	return st
}

// The tarball path must give users and the end-to-end suite the image the
// Dockerfile documents: a change to one without the other fails here.
func TestLLMRouteMatchesDockerfile(t *testing.T) {
	const version = "v9.9.9"
	df := parseFinalStage(t, "../../../Dockerfile", map[string]string{"VERSION": version})
	spec := LLMRoute("manager", "sidecar", "", version)

	// The tarball emulates this base's files (see Base); another base needs
	// them reviewed.
	if df.from != "gcr.io/distroless/static:nonroot" {
		t.Errorf("Dockerfile base is %q: update Base to what it provides", df.from)
	}
	if df.workdir != spec.WorkingDir {
		t.Errorf("WORKDIR %q, tarball %q", df.workdir, spec.WorkingDir)
	}
	if df.user != spec.User {
		t.Errorf("USER %q, tarball %q", df.user, spec.User)
	}
	if !slices.Equal(df.entrypoint, spec.Entrypoint) {
		t.Errorf("ENTRYPOINT %q, tarball %q", df.entrypoint, spec.Entrypoint)
	}
	var binaries []string
	for _, f := range spec.Files {
		if f.Source != "" {
			binaries = append(binaries, f.Path)
		}
	}
	slices.Sort(binaries)
	slices.Sort(df.copies)
	if !slices.Equal(df.copies, binaries) {
		t.Errorf("Dockerfile copies %q, tarball holds %q", df.copies, binaries)
	}
	if len(df.labels) != len(spec.Labels) {
		t.Errorf("Dockerfile labels %v, tarball %v", df.labels, spec.Labels)
	}
	for k, v := range df.labels {
		if spec.Labels[k] != v {
			t.Errorf("label %s: Dockerfile %q, tarball %q", k, v, spec.Labels[k])
		}
	}
}

func TestWriteReadsBack(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "manager")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("CA"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Build(LLMRoute(bin, bin, ca, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	const tag = "example.com/llmroute:v1"
	if err := Write(out, tag, img); err != nil {
		t.Fatal(err)
	}

	ref, _ := name.NewTag(tag)
	got, err := tarball.ImageFromPath(out, &ref)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{"/manager"}) || cf.OS != "linux" {
		t.Errorf("config: user %q entrypoint %q os %q", cf.Config.User, cf.Config.Entrypoint, cf.OS)
	}

	layers, err := got.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	want := map[string]int64{ // path -> mode
		"manager/": -1, "manager": 0o755, "llmroute-sidecar": 0o755, "tmp/": 0o1777,
		"home/nonroot/": 0o700, "etc/ssl/certs/ca-certificates.crt": 0o644, "etc/passwd": 0o644,
	}
	delete(want, "manager/")
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if mode, ok := want[h.Name]; ok {
			if h.Mode != mode {
				t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, mode)
			}
			if h.Name == "home/nonroot/" && h.Uid != NonRootUID {
				t.Errorf("%s: owner %d, want %d", h.Name, h.Uid, NonRootUID)
			}
			delete(want, h.Name)
		}
	}
	for p := range want {
		t.Errorf("%s missing from the layer", p)
	}
}
