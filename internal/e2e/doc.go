// Package e2e holds the end-to-end durability tests: the real freshet
// binary under HTTP load, killed with SIGKILL or cut off from a real
// ClickHouse server, must store every acknowledged event exactly once.
// It has no non-test code.
package e2e
