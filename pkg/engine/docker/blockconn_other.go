//go:build !linux

package docker

import (
	"context"
	"net"
)

// blockingDialer: blocking connections are Linux-only; elsewhere net/http's
// dialer serves (and ReadHooks are never attached).
func blockingDialer(string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil
}
