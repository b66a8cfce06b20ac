package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the run happened, as read at run time.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Memory    string `json:"memory"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	OS        string `json:"os"`
	Nginx     string `json:"nginx,omitempty"`
	LoadStart string `json:"load_average_start"`
	LoadEnd   string `json:"load_average_end"`
	// Noisy is set when the load average exceeded the core count at the
	// start or the end: other work shared the machine.
	Noisy bool `json:"noisy"`
}

func readMachine() Machine {
	m := Machine{
		CPU:       cpuModel(),
		Cores:     runtime.NumCPU(),
		Memory:    memTotal(),
		Kernel:    strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		Go:        goVersion(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		LoadStart: loadAverage(),
	}
	return m
}

// finish records the load average at the end of the run.
func (m *Machine) finish() {
	m.LoadEnd = loadAverage()
	for _, l := range []string{m.LoadStart, m.LoadEnd} {
		if v, err := strconv.ParseFloat(strings.Fields(l + " 0")[0], 64); err == nil && v > float64(m.Cores) {
			m.Noisy = true
		}
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	for _, line := range strings.Split(readFile("/proc/meminfo"), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}

// goVersion is the toolchain's version (the one that builds the sidecar),
// falling back to the bench binary's own.
func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return runtime.Version()
}

// loadAverage is the 1-, 5- and 15-minute load average.
func loadAverage() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}
