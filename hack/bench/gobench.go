package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// goBenchSection runs the sidecar packages' own Go benchmarks briefly and
// tables them: the hot path piece by piece, beside the end-to-end numbers.
func goBenchSection(ctx context.Context, h *Harness, o *Options) (*Section, error) {
	args := []string{"test", "-run=^$", "-bench=.", "-benchmem", "-count=1", "-benchtime=" + o.GoBenchtime, "./sidecar/..."}
	s := &Section{
		ID:     "go",
		Title:  "Go benchmarks of the sidecar packages",
		Method: "`go " + strings.Join(args, " ") + "`: short runs, for orientation (single runs on a shared machine; use benchstat with -count 10 to compare changes).",
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = h.Repo
	out, err := cmd.CombinedOutput()
	rows := parseGoBench(string(out))
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 600 {
			msg = "…" + msg[len(msg)-600:]
		}
		s.note("`go test` failed (%v), so this table may be partial: %s", err, strings.ReplaceAll(msg, "\n", " / "))
	}
	if len(rows) == 0 {
		s.Skipped = "no benchmark ran"
		return s, nil
	}
	tb := Table{Columns: []string{"package", "benchmark", "iterations", "ns/op", "B/op", "allocs/op", "other"}}
	for _, r := range rows {
		tb.Add(r.pkg, r.name, r.n, r.metric("ns/op"), r.metric("B/op"), r.metric("allocs/op"), r.other())
	}
	s.Tables = append(s.Tables, tb)
	return s, nil
}

type goBench struct {
	pkg, name string
	n         int64
	values    []float64
	units     []string
}

func (b goBench) metric(unit string) any {
	for i, u := range b.units {
		if u == unit {
			return b.values[i]
		}
	}
	return nil
}

func (b goBench) other() string {
	var parts []string
	for i, u := range b.units {
		switch u {
		case "ns/op", "B/op", "allocs/op":
		default:
			parts = append(parts, fmt.Sprintf("%g %s", b.values[i], u))
		}
	}
	return strings.Join(parts, ", ")
}

// parseGoBench reads `go test -bench` output: "pkg:" lines name the package
// of the "BenchmarkName-N iterations value unit ..." lines after them.
func parseGoBench(out string) []goBench {
	var rows []goBench
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), "github.com/osmen-ai/llmroute/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		b := goBench{pkg: pkg, name: f[0], n: n}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			b.values = append(b.values, v)
			b.units = append(b.units, f[i+1])
		}
		rows = append(rows, b)
	}
	return rows
}
