// Package freeport finds free loopback TCP ports for tests and benchmarks
// that start servers (Freshet, ClickHouse) which take a port number rather
// than a listener.
package freeport

import (
	"fmt"
	"net"
)

// Get asks the kernel for n distinct free loopback ports. They are free
// when Get returns; another process may take one before it is used, which
// the callers' start-up checks report.
func Get(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Addr returns "127.0.0.1:port" for one free port.
func Addr() (string, error) {
	p, err := Get(1)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", p[0]), nil
}
