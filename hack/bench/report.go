package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Status is a check's verdict.
type Status string

// The verdicts. NotMeasured always carries the reason in Check.Why.
const (
	Pass        Status = "PASS"
	Fail        Status = "FAIL"
	NotMeasured Status = "NOT MEASURED"
)

// Op compares a measured value to a check's limit.
type Op string

// The comparisons a target can ask for.
const (
	AtMost  Op = "<="
	AtLeast Op = ">="
	Equal   Op = "=="
)

// Check is one target: a value measured in this run against a limit, and,
// where there is one, the same quantity measured for a baseline.
type Check struct {
	Section  string   `json:"section"`
	Name     string   `json:"name"`
	Op       Op       `json:"op"`
	Limit    float64  `json:"limit"`
	Unit     string   `json:"unit"`
	Value    *float64 `json:"value"` // nil: not measured
	Baseline *Measure `json:"baseline,omitempty"`
	Status   Status   `json:"status"`
	Why      string   `json:"why,omitempty"` // for NotMeasured, and notes on a verdict
}

// Measure is a named value, such as a baseline's.
type Measure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Ratio is the measured value over the baseline's, or nil.
func (c Check) Ratio() *float64 {
	if c.Value == nil || c.Baseline == nil || c.Baseline.Value == 0 {
		return nil
	}
	r := *c.Value / c.Baseline.Value
	return &r
}

// Evaluate returns the verdict of value against op and limit. A NaN or
// infinite value, or a missing one, is not measured: it never passes.
func Evaluate(op Op, limit float64, value *float64) Status {
	if value == nil || math.IsNaN(*value) || math.IsInf(*value, 0) {
		return NotMeasured
	}
	v := *value
	var ok bool
	switch op {
	case AtMost:
		ok = v <= limit
	case AtLeast:
		ok = v >= limit
	case Equal:
		ok = v == limit
	default:
		return NotMeasured
	}
	if ok {
		return Pass
	}
	return Fail
}

// Table is a detail table: numbers stay numbers in bench.json.
type Table struct {
	Title   string   `json:"title"`
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// Add appends a row.
func (t *Table) Add(cells ...any) { t.Rows = append(t.Rows, cells) }

// Section is one numbered part of the report.
type Section struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Targets string   `json:"targets"` // the targets, as the issue states them
	Method  string   `json:"method"`  // how it was measured
	Checks  []Check  `json:"checks"`
	Tables  []Table  `json:"tables"`
	Notes   []string `json:"notes,omitempty"`
	Skipped string   `json:"skipped,omitempty"` // why the section was not measured
	When    string   `json:"when,omitempty"`    // set when it comes from another run (the soak)
	Seconds float64  `json:"seconds"`           // how long the section took
}

// check adds a check and evaluates it.
func (s *Section) check(name string, op Op, limit float64, unit string, value *float64, baseline *Measure, why string) *Check {
	if value != nil && (math.IsNaN(*value) || math.IsInf(*value, 0)) {
		value = nil
	}
	c := Check{Section: s.ID, Name: name, Op: op, Limit: limit, Unit: unit, Value: value, Baseline: baseline, Why: why}
	c.Status = Evaluate(op, limit, value)
	if c.Status == NotMeasured && c.Why == "" {
		c.Why = "no value was measured"
	}
	s.Checks = append(s.Checks, c)
	return &s.Checks[len(s.Checks)-1]
}

// note adds a line under the section.
func (s *Section) note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// Report is everything one run measured: BENCHMARKS.md and bench.json are
// both rendered from it.
type Report struct {
	Machine  Machine    `json:"machine"`
	Date     string     `json:"date"`
	Command  string     `json:"command"`
	Settings []Setting  `json:"settings"`
	Sections []*Section `json:"sections"`
}

// Setting is a knob and the value this run used.
type Setting struct {
	Flag  string `json:"flag"`
	Value string `json:"value"`
	Help  string `json:"help"`
}

// Checks returns every check of every section, in order.
func (r *Report) Checks() []Check {
	var out []Check
	for _, s := range r.Sections {
		out = append(out, s.Checks...)
	}
	return out
}

// Tally counts the verdicts.
func (r *Report) Tally() map[Status]int {
	t := map[Status]int{}
	for _, c := range r.Checks() {
		t[c.Status]++
	}
	return t
}

// section returns the section with id, or nil.
func (r *Report) section(id string) *Section {
	for _, s := range r.Sections {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// WriteJSON writes bench.json.
func (r *Report) WriteJSON(file string) error {
	for _, s := range r.Sections {
		for _, t := range s.Tables {
			for _, row := range t.Rows {
				for i, c := range row {
					if v, ok := c.(float64); ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
						row[i] = nil // JSON has no NaN
					}
				}
			}
		}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// ReadReport reads a bench.json written by an earlier run.
func ReadReport(file string) (*Report, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &r, nil
}

// WriteMarkdown writes BENCHMARKS.md.
func (r *Report) WriteMarkdown(file string) error {
	return os.WriteFile(file, []byte(r.Markdown()), 0o644)
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Generated by `hack/bench` on %s; do not edit by hand. Reproduce with `%s` (about 3 minutes; ", r.Date, r.Command)
	p("`make soak` adds the 10-minute soak, `make soak SOAK_DURATION=1m` a short one). ")
	p("Every figure comes from this one run: the sidecar and its baselines are measured side by side, ")
	p("interleaved in short slices so that noise from other work on the machine falls on all of them alike. ")
	p("Ratios are sidecar / baseline. Every PASS comes from a check in the harness that can fail; ")
	p("`bench.json` holds the same data.\n\n")

	p("## Machine\n\n")
	m := r.Machine
	p("| CPU | cores | memory | kernel | Go | nginx | load average (start → end) |\n|---|---|---|---|---|---|---|\n")
	p("| %s | %d | %s | %s | %s | %s | %s → %s |\n\n", m.CPU, m.Cores, m.Memory, m.Kernel, m.Go, orDash(m.Nginx), m.LoadStart, m.LoadEnd)
	if m.Noisy {
		p("> The machine was shared during this run (load average above its core count): other builds and tests ran beside the benchmark, so tail latencies are inflated for every target alike. Compare the ratios rather than the absolute tails.\n\n")
	}

	p("## Summary\n\n")
	t := r.Tally()
	p("%d PASS, %d FAIL, %d not measured.\n\n", t[Pass], t[Fail], t[NotMeasured])
	p("| section | check | target | measured | baseline | ratio | result |\n|---|---|---|---|---|---|---|\n")
	for _, c := range r.Checks() {
		p("| %s | %s | %s %s | %s | %s | %s | %s |\n", c.Section, c.Name, opText(c.Op), num(c.Limit, c.Unit),
			valueText(c.Value, c.Unit), baselineText(c.Baseline, c.Unit), ratioText(c.Ratio()), verdictText(c))
	}
	p("\n")

	for _, s := range r.Sections {
		p("## %s\n\n", s.Title)
		if s.When != "" {
			p("_%s_\n\n", s.When)
		}
		if s.Targets != "" {
			p("**Targets:** %s\n\n", s.Targets)
		}
		if s.Method != "" {
			p("**Method:** %s\n\n", s.Method)
		}
		if s.Skipped != "" {
			p("**Not measured:** %s\n\n", s.Skipped)
		}
		if len(s.Checks) > 0 {
			p("| check | target | measured | baseline | ratio | result |\n|---|---|---|---|---|---|\n")
			for _, c := range s.Checks {
				p("| %s | %s %s | %s | %s | %s | %s |\n", c.Name, opText(c.Op), num(c.Limit, c.Unit),
					valueText(c.Value, c.Unit), baselineText(c.Baseline, c.Unit), ratioText(c.Ratio()), verdictText(c))
			}
			p("\n")
		}
		for _, tb := range s.Tables {
			if tb.Title != "" {
				p("%s\n\n", tb.Title)
			}
			p("| %s |\n|%s\n", strings.Join(tb.Columns, " | "), strings.Repeat("---|", len(tb.Columns)))
			for _, row := range tb.Rows {
				cells := make([]string, len(row))
				for i, c := range row {
					cells[i] = cell(c)
				}
				p("| %s |\n", strings.Join(cells, " | "))
			}
			p("\n")
		}
		for _, n := range s.Notes {
			p("- %s\n", n)
		}
		if len(s.Notes) > 0 {
			p("\n")
		}
	}

	p("## Knobs\n\n`go run ./hack/bench [flags]`; `make bench BENCH_FLAGS=\"...\"` passes flags through.\n\n")
	p("| flag | this run | meaning |\n|---|---|---|\n")
	for _, s := range r.Settings {
		p("| `-%s` | %s | %s |\n", s.Flag, s.Value, s.Help)
	}
	return b.String()
}

func opText(op Op) string {
	switch op {
	case AtMost:
		return "≤"
	case AtLeast:
		return "≥"
	}
	return "="
}

func verdictText(c Check) string {
	v := "**" + string(c.Status) + "**"
	if c.Status == NotMeasured {
		v = "not measured"
	}
	if c.Why != "" {
		v += " (" + c.Why + ")"
	}
	return v
}

func valueText(v *float64, unit string) string {
	if v == nil {
		return "—"
	}
	return num(*v, unit)
}

func baselineText(m *Measure, unit string) string {
	if m == nil {
		return "—"
	}
	return m.Name + ": " + num(m.Value, unit)
}

func ratioText(r *float64) string {
	if r == nil {
		return "—"
	}
	return strconv.FormatFloat(*r, 'f', 2, 64) + "×"
}

// num formats a value with its unit, to a precision that suits its size.
func num(v float64, unit string) string {
	s := fmtFloat(v)
	switch unit {
	case "", "×":
		return s + unit
	case "%":
		return s + "%"
	}
	return s + " " + unit
}

func fmtFloat(v float64) string {
	a := math.Abs(v)
	switch {
	case v == math.Trunc(v) && a < 1e9:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func cell(c any) string {
	switch v := c.(type) {
	case nil:
		return "—"
	case float64:
		if math.IsNaN(v) {
			return "—"
		}
		return fmtFloat(v)
	case string:
		if v == "" {
			return "—"
		}
		return strings.ReplaceAll(v, "|", "\\|")
	}
	return fmt.Sprint(c)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ptr returns a pointer to v, for Check.Value.
func ptr(v float64) *float64 { return &v }
