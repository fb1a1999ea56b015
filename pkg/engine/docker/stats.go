package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// maxStatsBody bounds the one JSON document a stats call reads. Docker's is
// about 2-5 KiB; a container with many networks or block devices adds a few
// hundred bytes each.
const maxStatsBody = 1 << 20

// Stats samples containers through Docker's stats endpoint, one shot per call
// (stream=false&one-shot=true: Docker reads the cgroup once and answers at
// once, instead of waiting a second for its own previous sample).
type Stats struct {
	d   *dockerEngine
	cli *client.Client // the stats client (newStatsClient), shared by every sampler
}

var _ engine.Stats = (*Stats)(nil)

// Sample reads a running container's resource use once. A container that is
// not running is a Conflict; an unknown one NotFound.
func (s *Stats) Sample(ctx context.Context, id string) (engine.StatsSample, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := s.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return engine.StatsSample{}, s.d.errorOf(err)
	}
	defer func() {
		// Drained (the newline after the document), so the connection is
		// kept for the next call.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxStatsBody))
		_ = resp.Body.Close()
	}()
	buf := statsBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledStatsBuffer {
			buf.Reset()
			statsBuffers.Put(buf)
		}
	}()
	var st statsDoc
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxStatsBody))
	if err == nil {
		err = json.Unmarshal(buf.Bytes(), &st)
	}
	if err != nil {
		if ctx.Err() != nil {
			return engine.StatsSample{}, s.d.errorOf(ctx.Err())
		}
		return engine.StatsSample{}, s.d.errorOf(err)
	}
	return sampleOf(id, &st)
}

// statsBuffers hold the stats documents being read, reused: every container
// is sampled every interval, and a fresh buffer each time is most of a
// sample's garbage (which the heap's growth between collections turns into
// resident memory).
var statsBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledStatsBuffer is the largest buffer put back in statsBuffers (a
// container with many networks or devices gets a fresh one each time).
const maxPooledStatsBuffer = 64 << 10

// statsDoc is the part of Docker's stats answer (container.StatsResponse) a
// sample uses. Decoding only these fields skips the per-CPU arrays, the
// previous CPU figures and the memory.stat map of about 35 entries: the
// decode takes a fraction of the time and garbage, for every container every
// interval.
type statsDoc struct {
	Read      time.Time `json:"read"`
	PidsStats struct {
		Current uint64 `json:"current"`
	} `json:"pids_stats"`
	BlkioStats struct {
		IoServiceBytesRecursive []struct {
			Op    string `json:"op"`
			Value uint64 `json:"value"`
		} `json:"io_service_bytes_recursive"`
	} `json:"blkio_stats"`
	CPUStats struct {
		CPUUsage struct {
			TotalUsage uint64 `json:"total_usage"`
		} `json:"cpu_usage"`
	} `json:"cpu_stats"`
	MemoryStats struct {
		Usage uint64 `json:"usage"`
		Limit uint64 `json:"limit"`
		Stats struct {
			TotalInactiveFile *uint64 `json:"total_inactive_file"` // cgroup v1
			InactiveFile      *uint64 `json:"inactive_file"`       // cgroup v2 (v1 has it too)
		} `json:"stats"`
	} `json:"memory_stats"`
	Networks map[string]struct {
		RxBytes uint64 `json:"rx_bytes"`
		TxBytes uint64 `json:"tx_bytes"`
	} `json:"networks"`
}

// sampleOf turns Docker's stats into a sample. Docker answers a stopped
// container with zero "read" time and empty figures; that is a Conflict.
//
// Memory, as `docker stats` and kubelet count it: the working set is the
// cgroup's usage minus its inactive file cache, which the kernel can drop at
// once (cgroup v1: memory.stat's total_inactive_file; v2: inactive_file).
// Block I/O sums the read and write entries of io_service_bytes_recursive
// over all devices (v1 says "Read"/"Write", v2 "read"/"write").
func sampleOf(id string, st *statsDoc) (engine.StatsSample, error) {
	if st.Read.IsZero() || st.Read.Unix() <= 0 {
		return engine.StatsSample{}, engine.Errorf(engine.Conflict, "container %s is not running", id)
	}
	s := engine.StatsSample{
		Timestamp:               st.Read,
		CPUUsageCoreNanoSeconds: st.CPUStats.CPUUsage.TotalUsage,
		MemoryUsageBytes:        st.MemoryStats.Usage,
		MemoryLimitBytes:        st.MemoryStats.Limit,
		PIDs:                    st.PidsStats.Current,
	}
	var inactive uint64
	if p := st.MemoryStats.Stats.TotalInactiveFile; p != nil {
		inactive = *p // cgroup v1
	} else if p := st.MemoryStats.Stats.InactiveFile; p != nil {
		inactive = *p // cgroup v2
	}
	if inactive < s.MemoryUsageBytes {
		s.MemoryWorkingSetBytes = s.MemoryUsageBytes - inactive
	}
	for _, n := range st.Networks {
		s.NetworkRxBytes += n.RxBytes
		s.NetworkTxBytes += n.TxBytes
	}
	for _, e := range st.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			s.BlockIOReadBytes += e.Value
		case "write":
			s.BlockIOWriteBytes += e.Value
		}
	}
	return s, nil
}
