package testserver

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Values a 0.8.0 server reports about itself.
const (
	serverVersion = "0.8.0"
	serverSemver  = 8000 // major*1_000_000 + minor*1_000 + patch (§4.8)
	clusterName   = "iggy-cluster"
	nodeName      = "iggy-node-0"
	defaultPort   = 8090
	quicPort      = 8080
	httpPort      = 3000
	webSocketPort = 8092
)

// handlePing (1): empty request, empty answer; allowed before login.
func handlePing(q *request) ([]byte, error) {
	return nil, q.decoded()
}

// handleGetStats (10) answers the 0.8 Stats layout of §5.1: semver always
// present, no cache metrics, and the three trailing fields of 0.7.3+. Host
// figures the double does not measure (CPU, host memory, disk) are 0.
func handleGetStats(q *request) ([]byte, error) {
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canReadServers()); err != nil {
		return nil, err
	}
	var streams, topics, partitions, segments, groups uint32
	var messages, size uint64
	for _, s := range q.st.streams {
		streams++
		for _, t := range s.topics {
			topics++
			groups += uint32(len(t.groups))
			for _, p := range t.partitions {
				partitions++
				segments += p.segmentsCount()
				messages += uint64(len(p.messages))
				size += p.sizeBytes
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	hostname, _ := os.Hostname()
	started := q.st.startedAt

	var w writer
	w.u32(uint32(os.Getpid()))
	w.f32(0) // cpu_usage
	w.f32(0) // total_cpu_usage
	w.u64(ms.Sys)
	w.u64(0) // total_memory
	w.u64(0) // available_memory
	w.u64(uint64(time.Since(started).Microseconds()))
	w.u64(uint64(started.UnixMicro()))
	w.u64(q.s.readBytes.Load())
	w.u64(q.s.writtenBytes.Load())
	w.u64(size)
	w.u32(streams)
	w.u32(topics)
	w.u32(partitions)
	w.u32(segments)
	w.u64(messages)
	w.u32(uint32(len(q.st.sessions)))
	w.u32(groups)
	w.str32(hostname)
	w.str32(osName())
	w.str32("") // os_version
	w.str32(kernelVersion())
	w.str32(serverVersion)
	w.u32(serverSemver)
	w.u32(0) // cache_metrics_count
	w.u32(uint32(runtime.GOMAXPROCS(0)))
	w.u64(0) // free_disk_space
	w.u64(0) // total_disk_space
	return w.b, nil
}

func osName() string {
	if runtime.GOOS == "" {
		return ""
	}
	return strings.ToUpper(runtime.GOOS[:1]) + runtime.GOOS[1:]
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// handleGetClusterMetadata (12) answers a one-node cluster whose only node is
// the healthy leader on this connection's local address. A non-clustered 0.8
// server answers 5 FeatureUnavailable instead; the one-node answer is chosen
// so that the SDK's GetClusterMetadata (which it also calls after every
// login) succeeds and the response layout gets exercised.
func handleGetClusterMetadata(q *request) ([]byte, error) {
	if err := q.decoded(); err != nil {
		return nil, err
	}
	ip, port := "127.0.0.1", uint16(defaultPort)
	if q.c.local != nil {
		if host, p, err := net.SplitHostPort(q.c.local.String()); err == nil {
			ip = host
			if n, err := strconv.ParseUint(p, 10, 16); err == nil {
				port = uint16(n)
			}
		}
	}
	var w writer
	w.str32(clusterName)
	w.u32(1)
	w.str32(nodeName)
	w.str32(ip)
	w.u16(port)
	w.u16(quicPort)
	w.u16(httpPort)
	w.u16(webSocketPort)
	w.u8(0) // role: Leader
	w.u8(0) // status: Healthy
	return w.b, nil
}

// Snapshot request enums (§4.8).
const (
	snapshotStored   = 1
	snapshotDeflated = 2
	snapshotXz       = 6
	snapshotAll      = 100
)

// snapshotFiles names the archive entry for each snapshot type.
func snapshotFile(kind uint8) (string, bool) {
	switch kind {
	case 1:
		return "filesystem_overview.txt", true
	case 2:
		return "process_list.txt", true
	case 3:
		return "resource_usage.txt", true
	case 4:
		return "test.txt", true
	case 5:
		return "server_logs.txt", true
	case 6:
		return "server_config.txt", true
	}
	return "", false
}

// handleGetSnapshot (11) answers a small valid ZIP with one text entry per
// requested type. archive/zip only writes Stored and Deflated entries, so the
// other compression methods (Bzip2, Zstd, Lzma, Xz) fall back to Deflated.
func handleGetSnapshot(q *request) ([]byte, error) {
	compression := q.r.u8()
	count := q.r.u8()
	kinds := q.r.take(int(count))
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if compression < snapshotStored || compression > snapshotXz {
		return nil, statusError(statusInvalidCommand)
	}
	var names []string
	for _, k := range kinds {
		if k == snapshotAll {
			names = names[:0]
			for i := uint8(1); i <= 6; i++ {
				n, _ := snapshotFile(i)
				names = append(names, n)
			}
			break
		}
		n, ok := snapshotFile(k)
		if !ok {
			return nil, statusError(statusInvalidCommand)
		}
		names = append(names, n)
	}
	method := zip.Deflate
	if compression == snapshotStored {
		method = zip.Store
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: q.st.startedAt})
		if err != nil {
			return nil, fmt.Errorf("snapshot entry %s: %w", name, err)
		}
		if _, err := fmt.Fprintf(f, "iggytrace test server %s snapshot: %s\n", serverVersion, name); err != nil {
			return nil, fmt.Errorf("snapshot entry %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("snapshot archive: %w", err)
	}
	return buf.Bytes(), nil
}
