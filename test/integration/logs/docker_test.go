//go:build integration

package logs

import (
	"io"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

func dockerLogsOptions(stdout, stderr bool) container.LogsOptions {
	return container.LogsOptions{ShowStdout: stdout, ShowStderr: stderr}
}

func stdcopyStd(stdout, stderr io.Writer, r io.Reader) (int64, error) {
	return stdcopy.StdCopy(stdout, stderr, r)
}
