package engine

import (
	"context"
	"io"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// Engine is one container engine, built once per server and passed to
// everything that uses it. Its parts are safe for concurrent use.
type Engine struct {
	// Name says which engine this is, for messages: "docker engine at
	// unix:///var/run/docker.sock".
	Name string
	// Kind is the engine's short name ("docker"): it names the health checks
	// (/readyz/docker-mirror).
	Kind string

	// The mirror sources.
	Containers Source[*containers.Container]
	Images     Source[*containers.Image]
	Volumes    Source[*containers.Volume]

	// Control carries out users' writes to engine objects.
	Control Control
	// Requests carries out the request objects' operations.
	Requests Requests
	// Logs opens container logs.
	Logs Logs
	// Exec and Stats are the places of the exec subresource and of container
	// stats; an engine without them returns NotImplemented errors.
	Exec  Exec
	Stats Stats

	// Close releases the engine's connections; call it once nothing uses it.
	Close func() error
}

// Control changes engine objects on a user's behalf. Errors are *Error.
type Control interface {
	// Act carries out a container action (containers.Actions). Actions whose
	// effect is already there succeed, so a replayed action is harmless.
	Act(ctx context.Context, id, action string) error
	// RemoveContainer removes a container as `docker rm -f` does.
	RemoveContainer(ctx context.Context, id string) error
	// RemoveImage removes one tag of image id (or the untagged image when
	// repoTag is empty), not forced: an image in use is a Conflict. When the
	// engine shows something else under that tag now, nothing is removed.
	RemoveImage(ctx context.Context, id, repoTag string) error
	// RemoveVolume removes a volume, not forced: one in use is a Conflict.
	RemoveVolume(ctx context.Context, name string) error
}

// TransferResult is the end of an image pull or push.
type TransferResult struct {
	// ImageID of a pull; Digest of a push.
	ImageID, Digest string
	// Summary is the engine's last status line, if any.
	Summary string
	// Progress is the final progress, also after a failure.
	Progress *containers.TransferProgress
}

// Requests are the operations behind the request objects. Errors are *Error;
// a Reason on them names a more precise failure (e.g. "NotTagged").
type Requests interface {
	// CreateContainer creates (does not start) a container and returns its ID.
	CreateContainer(ctx context.Context, spec *containers.ContainerCreateRequestSpec) (id string, err error)
	// StartContainer starts a created container.
	StartContainer(ctx context.Context, id string) error
	// PullImage pulls a reference; progress is called as the transfer goes on
	// (often: the caller decides how often to record it).
	PullImage(ctx context.Context, repoTag string, progress func(*containers.TransferProgress)) (TransferResult, error)
	// PushImage pushes the tag that the Image object imageRef names.
	PushImage(ctx context.Context, imageRef string, progress func(*containers.TransferProgress)) (TransferResult, error)
	// CreateVolume creates a volume and returns its name.
	CreateVolume(ctx context.Context, spec *containers.VolumeCreateRequestSpec) (name string, err error)
}

// Logs opens container logs.
type Logs interface {
	// OpenLogs checks the container and the options against the engine and
	// opens the log. Errors: NotFound, InvalidArgument (options the container
	// cannot honour), NotImplemented (a log driver that cannot be read),
	// Unavailable.
	OpenLogs(ctx context.Context, id string, opts *containers.ContainerLogOptions) (LogStream, error)
}

// LogStream is one open container log.
type LogStream interface {
	// Copy writes the log to stdout and stderr (the same writer is fine) until
	// it ends, fails, or ctx is done (then it returns nil).
	Copy(ctx context.Context, stdout, stderr io.Writer) error
	// Close releases the stream and interrupts a Copy; safe to call more than
	// once and from another goroutine.
	Close() error
}

// RunChange is what happened to a followed container between two of its
// runs (followRestarts): how the previous run ended and when the next began,
// in the engine's clock.
type RunChange struct {
	ExitCode   int
	FinishedAt time.Time // when the previous run's output ended; zero when unknown
	StartedAt  time.Time
}

// RunNotifier is implemented by a LogStream opened with followRestarts.
// OnRunChange, called before Copy, sets f: Copy calls it in its own goroutine
// between two runs, after the old run's output and before the new one's. An
// error from f ends Copy with that error.
type RunNotifier interface {
	OnRunChange(f func(RunChange) error)
}

// ExecOptions are what to run in a container (the exec subresource's
// options, as pods/exec's).
type ExecOptions struct {
	Command               []string
	Stdin, Stdout, Stderr bool
	TTY                   bool
	User, WorkingDir      string
	Env                   []string // NAME=value
}

// TerminalSize is a TTY's size in characters.
type TerminalSize struct{ Width, Height uint16 }

// ExecStreams connect a command to its client. A stream the options did not
// ask for is nil.
type ExecStreams struct {
	// Stdin is the client's input; its EOF is the command's end of input
	// (for a TTY: a hangup of the terminal). Run closes it when it returns.
	Stdin io.ReadCloser
	// Stdout and Stderr receive the command's output (Stderr is nil with a
	// TTY: a terminal has one output).
	Stdout, Stderr io.Writer
	// InitialSize is the terminal's size before the command starts (TTY;
	// nil when the client sent none).
	InitialSize *TerminalSize
	// Resize carries later sizes; nil without a TTY. The caller never
	// closes it; Run stops reading it when it returns.
	Resize <-chan TerminalSize
}

// Exec runs commands in containers: the exec subresource.
type Exec interface {
	// CreateExec checks the container and prepares the command without
	// running it, so that a request can be refused before its connection is
	// upgraded. Errors: NotFound (no such container), Conflict (not running,
	// or paused), InvalidArgument, Unavailable.
	CreateExec(ctx context.Context, id string, opts ExecOptions) (ExecProcess, error)
}

// ExecProcess is one prepared command.
type ExecProcess interface {
	// Run starts the command, connects it to streams, and returns its exit
	// code once it has exited and its output is written. A container that
	// stops under the command ends it with the container's exit code (137
	// when killed). When ctx ends first (the client left) the connection to
	// the engine is closed at once, a TTY's process group gets a hangup
	// (SIGHUP), and Run returns ctx's error; a process without a TTY is left
	// to the engine, which keeps it running until it exits. Call Run once.
	Run(ctx context.Context, streams ExecStreams) (exitCode int, err error)
}

// StatsSample is one reading of a container's resource use, in the engine's
// cumulative counters (rates are computed from two samples).
type StatsSample struct {
	Timestamp               time.Time
	CPUUsageCoreNanoSeconds uint64
	MemoryUsageBytes        uint64
	MemoryWorkingSetBytes   uint64
	MemoryLimitBytes        uint64
	NetworkRxBytes          uint64
	NetworkTxBytes          uint64
	BlockIOReadBytes        uint64
	BlockIOWriteBytes       uint64
	PIDs                    uint64
}

// Stats samples containers' resource use: the source of containerstats.
type Stats interface {
	// Sample reads a running container's resource use once. Errors:
	// NotFound (no such container), Conflict (not running), Unavailable.
	Sample(ctx context.Context, id string) (StatsSample, error)
}
