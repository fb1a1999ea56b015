package docker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Trimmed answers of Docker 20.10's stats endpoint on a cgroup v1 and a cgroup
// v2 host.
const (
	statsV1 = `{"read":"2026-12-02T10:00:02.123456789Z","preread":"0001-01-01T00:00:00Z",
 "pids_stats":{"current":3},
 "blkio_stats":{"io_service_bytes_recursive":[
  {"major":8,"minor":0,"op":"Read","value":4096},{"major":8,"minor":0,"op":"Write","value":52428800},
  {"major":8,"minor":0,"op":"Sync","value":1},{"major":8,"minor":0,"op":"Total","value":52432896},
  {"major":8,"minor":16,"op":"Read","value":100}]},
 "cpu_stats":{"cpu_usage":{"total_usage":2500000000}},
 "memory_stats":{"usage":10485760,"limit":25769803776,"stats":{"total_inactive_file":4194304,"inactive_file":1}},
 "networks":{"eth0":{"rx_bytes":1000,"tx_bytes":200},"eth1":{"rx_bytes":5,"tx_bytes":7}}}`
	statsV2 = `{"read":"2026-12-02T10:00:02Z","pids_stats":{"current":1},
 "blkio_stats":{"io_service_bytes_recursive":[{"major":254,"minor":0,"op":"read","value":7},{"major":254,"minor":0,"op":"write","value":9}]},
 "cpu_stats":{"cpu_usage":{"total_usage":42}},
 "memory_stats":{"usage":1000,"limit":2000,"stats":{"inactive_file":3000}}}`
	statsStopped = `{"read":"0001-01-01T00:00:00Z","preread":"0001-01-01T00:00:00Z","name":"/x","id":"abc"}`
)

func TestSampleOf(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       engine.StatsSample
	}{
		{"cgroup v1", statsV1, engine.StatsSample{
			Timestamp:               time.Date(2026, 12, 2, 10, 0, 2, 123456789, time.UTC),
			CPUUsageCoreNanoSeconds: 2500000000,
			MemoryUsageBytes:        10485760, MemoryWorkingSetBytes: 10485760 - 4194304, MemoryLimitBytes: 25769803776,
			NetworkRxBytes: 1005, NetworkTxBytes: 207,
			BlockIOReadBytes: 4196, BlockIOWriteBytes: 52428800,
			PIDs: 3,
		}},
		// More inactive file than usage (the counters are read at different
		// moments): the working set floors at 0, as kubelet's does.
		{"cgroup v2", statsV2, engine.StatsSample{
			Timestamp:               time.Date(2026, 12, 2, 10, 0, 2, 0, time.UTC),
			CPUUsageCoreNanoSeconds: 42, MemoryUsageBytes: 1000, MemoryLimitBytes: 2000,
			BlockIOReadBytes: 7, BlockIOWriteBytes: 9, PIDs: 1,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st statsDoc
			if err := json.Unmarshal([]byte(tc.body), &st); err != nil {
				t.Fatal(err)
			}
			got, err := sampleOf("abc", &st)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Timestamp.Equal(tc.want.Timestamp) {
				t.Errorf("timestamp %v, want %v", got.Timestamp, tc.want.Timestamp)
			}
			got.Timestamp = tc.want.Timestamp
			if got != tc.want {
				t.Errorf("sample\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSampleOfStoppedIsConflict(t *testing.T) {
	var st statsDoc
	if err := json.Unmarshal([]byte(statsStopped), &st); err != nil {
		t.Fatal(err)
	}
	_, err := sampleOf("abc", &st)
	if engine.KindOf(err) != engine.Conflict {
		t.Fatalf("error %v (kind %v), want Conflict", err, engine.KindOf(err))
	}
}
