package docker

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// statsFull is a whole answer of Docker 20.10's stats endpoint for a container
// on a cgroup v1 host (two CPUs, one network, one block device).
const statsFull = `{"read":"2026-12-02T10:00:02.123456789Z","preread":"2026-12-02T10:00:01.120456789Z","pids_stats":{"current":1,"limit":18446744073709551615},"blkio_stats":{"io_service_bytes_recursive":[{"major":8,"minor":0,"op":"Read","value":0},{"major":8,"minor":0,"op":"Write","value":0},{"major":8,"minor":0,"op":"Sync","value":0},{"major":8,"minor":0,"op":"Async","value":0},{"major":8,"minor":0,"op":"Discard","value":0},{"major":8,"minor":0,"op":"Total","value":0}],"io_serviced_recursive":[{"major":8,"minor":0,"op":"Read","value":0},{"major":8,"minor":0,"op":"Write","value":0},{"major":8,"minor":0,"op":"Sync","value":0},{"major":8,"minor":0,"op":"Async","value":0},{"major":8,"minor":0,"op":"Discard","value":0},{"major":8,"minor":0,"op":"Total","value":0}],"io_queue_recursive":[],"io_service_time_recursive":[],"io_wait_time_recursive":[],"io_merged_recursive":[],"io_time_recursive":[],"sectors_recursive":[]},"num_procs":0,"storage_stats":{},"cpu_stats":{"cpu_usage":{"total_usage":31524577,"percpu_usage":[15342311,16182266],"usage_in_kernelmode":10000000,"usage_in_usermode":10000000},"system_cpu_usage":5843470000000,"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"precpu_stats":{"cpu_usage":{"total_usage":31524577,"percpu_usage":[15342311,16182266],"usage_in_kernelmode":10000000,"usage_in_usermode":10000000},"system_cpu_usage":5841470000000,"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"memory_stats":{"usage":1597440,"max_usage":3170304,"stats":{"active_anon":135168,"active_file":0,"cache":0,"dirty":0,"hierarchical_memory_limit":9223372036854771712,"hierarchical_memsw_limit":9223372036854771712,"inactive_anon":0,"inactive_file":0,"mapped_file":0,"pgfault":1287,"pgmajfault":0,"pgpgin":1023,"pgpgout":990,"rss":135168,"rss_huge":0,"total_active_anon":135168,"total_active_file":0,"total_cache":0,"total_dirty":0,"total_inactive_anon":0,"total_inactive_file":0,"total_mapped_file":0,"total_pgfault":1287,"total_pgmajfault":0,"total_pgpgin":1023,"total_pgpgout":990,"total_rss":135168,"total_rss_huge":0,"total_unevictable":0,"total_writeback":0,"unevictable":0,"writeback":0},"limit":25769803776},"name":"/bench-stats-00","id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","networks":{"eth0":{"rx_bytes":1046,"rx_packets":13,"rx_errors":0,"rx_dropped":0,"tx_bytes":0,"tx_packets":0,"tx_errors":0,"tx_dropped":0}}}
`

func BenchmarkDecodeStats(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		buf := statsBuffers.Get().(*bytes.Buffer)
		var st statsDoc
		if _, err := buf.ReadFrom(strings.NewReader(statsFull)); err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		statsBuffers.Put(buf)
		if _, err := sampleOf("x", &st); err != nil {
			b.Fatal(err)
		}
	}
}
