package printers

import (
	"fmt"

	units "github.com/docker/go-units"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// StatsHeader names the columns of StatsRow, as `docker stats` does.
var StatsHeader = []string{"NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}

// StatsRow is one sample in `docker stats`'s columns and units (binary for
// memory, decimal for traffic): name, CPU %, memory usage / limit, memory %,
// network I/O, block I/O, and the PIDs as an int64.
func StatsRow(s *containers.ContainerStatsStatus) []any {
	memPct := 0.0
	if s.Memory.LimitBytes > 0 {
		memPct = float64(s.Memory.WorkingSetBytes) / float64(s.Memory.LimitBytes) * 100
	}
	return []any{
		s.Name,
		fmt.Sprintf("%.2f%%", float64(s.CPU.UsageNanoCores)/1e7),
		units.BytesSize(float64(s.Memory.WorkingSetBytes)) + " / " + units.BytesSize(float64(s.Memory.LimitBytes)),
		fmt.Sprintf("%.2f%%", memPct),
		decimal(s.Network.RxBytes) + " / " + decimal(s.Network.TxBytes),
		decimal(s.BlockIO.ReadBytes) + " / " + decimal(s.BlockIO.WriteBytes),
		s.Pids,
	}
}

func decimal(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }
