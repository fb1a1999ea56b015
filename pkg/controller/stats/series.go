package stats

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// point is one sample as the ring keeps it: the status without the name
// (the series has it), in 96 bytes.
type point struct {
	seq                  uint64 // 1 for the series' first sample, then +1
	at                   int64  // Unix nanoseconds
	nanoCores, cpuTotal  int64
	memUsage, workingSet int64
	memLimit             int64
	rx, tx               int64
	read, write          int64
	pids                 int64
}

// PointBytes is the memory one kept sample takes (the README's figure per
// container is this times the ring's capacity).
const PointBytes = 12 * 8

func (p *point) status(name string) containers.ContainerStatsStatus {
	return containers.ContainerStatsStatus{
		Name:      name,
		Timestamp: metav1.NewMicroTime(time.Unix(0, p.at)),
		CPU:       containers.CPUStats{UsageNanoCores: p.nanoCores, UsageCoreNanoSeconds: p.cpuTotal},
		Memory:    containers.MemoryStats{UsageBytes: p.memUsage, WorkingSetBytes: p.workingSet, LimitBytes: p.memLimit},
		Network:   containers.NetworkStats{RxBytes: p.rx, TxBytes: p.tx},
		BlockIO:   containers.BlockIOStats{ReadBytes: p.read, WriteBytes: p.write},
		Pids:      p.pids,
	}
}

// Series is the samples kept of one run of one container: a ring of fixed
// capacity (the oldest sample makes room for the newest), and a way to wait
// for the next. It ends when the collector stops sampling the container.
type Series struct {
	mu      sync.Mutex    // guards everything below
	name    string        // the container's Docker name, without "/"
	ring    []point       // capacity fixed at creation
	next    int           // where the next sample goes
	n       int           // samples in ring
	lastSeq uint64        // seq of the newest sample; 0 before the first
	changed chan struct{} // closed (and replaced) at each append and at the end
	ended   bool
}

func newSeries(name string, capacity int) *Series {
	return &Series{name: name, ring: make([]point, capacity), changed: make(chan struct{})}
}

// Name is the container's Docker name.
func (s *Series) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

func (s *Series) setName(name string) {
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
}

func (s *Series) add(p point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeq++
	p.seq = s.lastSeq
	s.ring[s.next] = p
	s.next = (s.next + 1) % len(s.ring)
	s.n = min(s.n+1, len(s.ring))
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Series) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		close(s.changed)
	}
}

// Read returns, oldest first, at most limit of the kept samples that come after
// the sample numbered after (0: from the oldest) and were taken at or after
// since (zero: any time). It also returns the number to pass as after to
// read on, a channel closed when there is more to read or the series has
// ended, and whether it has ended (after which nothing more comes).
// A reader that falls more than the ring's capacity behind skips the samples
// overwritten meanwhile.
func (s *Series) Read(after uint64, since time.Time, limit int) (out []containers.ContainerStatsStatus, next uint64, changed <-chan struct{}, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next = after
	oldest := s.next - s.n
	if oldest < 0 {
		oldest += len(s.ring)
	}
	sinceNano := int64(0)
	if !since.IsZero() {
		sinceNano = since.UnixNano()
	}
	for i := range s.n {
		if len(out) >= limit {
			break
		}
		p := &s.ring[(oldest+i)%len(s.ring)]
		if p.seq <= after {
			continue
		}
		next = p.seq
		if p.at < sinceNano {
			continue
		}
		out = append(out, p.status(s.name))
	}
	return out, next, s.changed, s.ended && next == s.lastSeq
}

// Latest returns the newest sample, if any.
func (s *Series) Latest() (containers.ContainerStatsStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return containers.ContainerStatsStatus{}, false
	}
	i := s.next - 1
	if i < 0 {
		i += len(s.ring)
	}
	return s.ring[i].status(s.name), true
}
