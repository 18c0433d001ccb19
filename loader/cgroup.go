package loader

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CgroupV2Root returns where the cgroup v2 hierarchy is mounted: the
// unified /sys/fs/cgroup, /sys/fs/cgroup/unified in a hybrid layout, or
// wherever /proc/self/mountinfo says.
func CgroupV2Root() (string, error) {
	m, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	return m.point, nil
}

type mountEntry struct {
	root  string // the subtree of the hierarchy mounted there
	point string
}

func cgroup2Mount() (mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mountEntry{}, fmt.Errorf("find cgroup v2 mount: %w", err)
	}
	defer f.Close()
	mounts, err := parseMountinfo(f, "cgroup2")
	if err != nil {
		return mountEntry{}, fmt.Errorf("find cgroup v2 mount: %w", err)
	}
	if len(mounts) == 0 {
		return mountEntry{}, errors.New("no cgroup v2 hierarchy is mounted (cgroup_skb needs cgroup v2; mount -t cgroup2 none /sys/fs/cgroup/unified)")
	}
	// Prefer a mount of the whole hierarchy, and the usual places.
	best := mounts[0]
	for _, m := range mounts {
		if m.root == "/" && (best.root != "/" || m.point == "/sys/fs/cgroup" || m.point == "/sys/fs/cgroup/unified") {
			best = m
		}
	}
	return best, nil
}

// parseMountinfo returns the mounts of file system type fstype, from the
// format of proc(5) /proc/PID/mountinfo.
func parseMountinfo(r io.Reader, fstype string) ([]mountEntry, error) {
	var out []mountEntry
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 5 || len(g) < 1 || g[0] != fstype {
			continue
		}
		out = append(out, mountEntry{root: unescapeMount(f[3]), point: unescapeMount(f[4])})
	}
	return out, sc.Err()
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// CgroupOfPID returns the cgroup v2 directory of process pid.
func CgroupOfPID(pid int) (string, error) {
	m, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("cgroup of PID %d: %w", pid, err)
	}
	defer f.Close()
	rel, err := parseProcCgroup(f)
	if err != nil {
		return "", fmt.Errorf("cgroup of PID %d: %w", pid, err)
	}
	return joinCgroup(m, rel)
}

// parseProcCgroup returns the cgroup v2 path ("0::/path") from the format of
// /proc/PID/cgroup.
func parseProcCgroup(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rel, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return rel, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("process is in no cgroup v2 (no 0:: line)")
}

// joinCgroup maps a cgroup path as /proc/PID/cgroup shows it to a directory
// under mount m, which may have mounted only a subtree (containers).
func joinCgroup(m mountEntry, rel string) (string, error) {
	rel = strings.TrimSuffix(rel, " (deleted)")
	if !strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("unexpected cgroup path %q", rel)
	}
	if m.root != "/" {
		sub, ok := strings.CutPrefix(rel, m.root)
		if !ok || (sub != "" && !strings.HasPrefix(sub, "/")) {
			return "", fmt.Errorf("cgroup %s is outside the mounted subtree %s at %s", rel, m.root, m.point)
		}
		rel = sub
	}
	return filepath.Join(m.point, rel), nil
}
