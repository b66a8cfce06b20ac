package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupName is the node's cgroup, made in every hierarchy of the host: the
// kubelet's cgroupRoot, with the daemons in its "system" child and the pods
// in the kubepods child the kubelet makes. The host's hierarchies themselves
// are left as they are.
const cgroupName = "llmroute-e2e"

// cgroupHierarchies returns the mount points of the host's cgroup
// hierarchies (v1 controllers, and the unified v2 one).
func cgroupHierarchies() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 0 || sep+1 >= len(fields) || len(fields) < 5 {
			continue
		}
		if fstype := fields[sep+1]; fstype == "cgroup" || fstype == "cgroup2" {
			dirs = append(dirs, unescapeMount(fields[4]))
		}
	}
	return dirs, sc.Err()
}

// makeCgroups creates the node's cgroup and its system child everywhere.
// The cpuset hierarchy wants cpus and mems set before a task can join.
func makeCgroups() error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	if len(hs) == 0 {
		return errors.New("no cgroup hierarchy is mounted")
	}
	for _, h := range hs {
		for _, dir := range []string{filepath.Join(h, cgroupName), filepath.Join(h, cgroupName, "system")} {
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("create cgroup: %w", err)
			}
			if _, err := os.Stat(filepath.Join(h, "cpuset.cpus")); err == nil {
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					v, err := os.ReadFile(filepath.Join(h, f))
					if err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
						return fmt.Errorf("set %s of %s: %w", f, dir, err)
					}
				}
			}
		}
	}
	return nil
}

// systemCgroupProcs are the files a daemon writes its pid to, to join the
// node's system cgroup in every hierarchy.
func systemCgroupProcs() ([]string, error) {
	hs, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	var files []string
	for _, h := range hs {
		files = append(files, filepath.Join(h, cgroupName, "system", "cgroup.procs"))
	}
	return files, nil
}

// cgroupPids lists every process in the node's cgroups, in any hierarchy.
func cgroupPids() []int {
	hs, _ := cgroupHierarchies()
	seen := map[int]bool{}
	for _, h := range hs {
		_ = filepath.WalkDir(filepath.Join(h, cgroupName), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					seen[pid] = true
				}
			}
			return nil
		})
	}
	pids := make([]int, 0, len(seen))
	for p := range seen {
		pids = append(pids, p)
	}
	slices.Sort(pids)
	return pids
}

// killCgroups kills every process left in the node's cgroups (pods, shims,
// daemons that did not stop) and waits for them to be gone.
func killCgroups(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids := cgroupPids()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in cgroup %s after %s", pids, cgroupName, timeout)
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeCgroups removes the node's cgroups, deepest first, in every
// hierarchy. Kernel-made files vanish with their directory.
func removeCgroups() error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		root := filepath.Join(h, cgroupName)
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := removeCgroupDir(dirs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroupDir retries for a moment: a killed task may leave its cgroup
// a little after it is gone from cgroup.procs.
func removeCgroupDir(dir string) error {
	var err error
	for range 50 {
		if err = syscall.Rmdir(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, err)
}

// leftoverCgroups lists the node's cgroup directories that still exist.
func leftoverCgroups() []string {
	hs, _ := cgroupHierarchies()
	var left []string
	for _, h := range hs {
		if _, err := os.Stat(filepath.Join(h, cgroupName)); err == nil {
			left = append(left, filepath.Join(h, cgroupName))
		}
	}
	return left
}
