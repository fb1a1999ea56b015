package printers

import (
	"reflect"
	"testing"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// The row reads as `docker stats` does for the same figures.
func TestStatsRow(t *testing.T) {
	s := &containers.ContainerStatsStatus{
		Name:    "web-1",
		CPU:     containers.CPUStats{UsageNanoCores: 1_234_500_000},
		Memory:  containers.MemoryStats{WorkingSetBytes: 2_785_280, LimitBytes: 25_275_953_152},
		Network: containers.NetworkStats{RxBytes: 806, TxBytes: 1_500_000},
		BlockIO: containers.BlockIOStats{ReadBytes: 36_900, WriteBytes: 52_400_000},
		Pids:    3,
	}
	want := []any{"web-1", "123.45%", "2.656MiB / 23.54GiB", "0.01%", "806B / 1.5MB", "36.9kB / 52.4MB", int64(3)}
	if got := StatsRow(s); !reflect.DeepEqual(got, want) {
		t.Errorf("row\n got %q\nwant %q", got, want)
	}
	if len(StatsHeader) != len(want) {
		t.Errorf("%d headers for %d columns", len(StatsHeader), len(want))
	}
	// No limit known: MEM % is 0, not a division by zero.
	if got := StatsRow(&containers.ContainerStatsStatus{})[3]; got != "0.00%" {
		t.Errorf("MEM %% without a limit: %v", got)
	}
}
