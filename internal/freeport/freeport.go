// Package freeport finds free loopback TCP ports for tests and benchmarks
// that start servers (Freshet, ClickHouse) which take a port number rather
// than a listener.
package freeport

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"strconv"
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

// Low returns n distinct free loopback ports below 32768, for servers that
// also make outgoing connections (ZooKeeper, ClickHouse replicas, etcd).
// Ports the kernel hands out for port 0 come from the ephemeral range,
// which those servers' own outgoing connections also draw from: a
// listening port chosen there was seen taken by such a connection between
// choosing and binding ("Address already in use").
func Low(n int) ([]int, error) {
	const lo, hi = 20000, 32768
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("free port: no %d free ports in [%d, %d)", n, lo, hi)
		}
		r, err := rand.Int(rand.Reader, big.NewInt(hi-lo))
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		p := lo + int(r.Int64())
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue // taken, or held by an earlier pick
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	return ports, nil
}
