package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The two rules that shape the tree (DESIGN.md), checked rather than only
// written:
//  1. The sidecar runs in every pod and on laptops from a plain file, so it
//     stays small: nothing under sidecar/, nor what its tests use (the fake
//     provider, the child-process harness), imports Kubernetes.
//  2. The operator knows the sidecar only through its config schema:
//     controllers/ imports no sidecar package but sidecar/config.
func TestPackageBoundaries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkgs := range []string{"./sidecar/...", "./hack/mockllm/...", "./hack/process/..."} {
		for _, dep := range goList(t, "-deps", pkgs) {
			if strings.HasPrefix(dep, "k8s.io/") || strings.HasPrefix(dep, "sigs.k8s.io/") {
				t.Errorf("%s pulls in %s: the sidecar must not depend on Kubernetes", pkgs, dep)
			}
		}
	}
	const sidecar = "github.com/osmen-ai/llmroute/sidecar"
	for _, line := range goList(t, "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}`, "./controllers/...") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if (imp == sidecar || strings.HasPrefix(imp, sidecar+"/")) && imp != sidecar+"/config" {
				t.Errorf("%s imports %s: the operator may know the sidecar only through sidecar/config", fields[0], imp)
			}
		}
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + string(ee.Stderr)
		}
		t.Fatalf("go list %s: %s", strings.Join(args, " "), msg)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
