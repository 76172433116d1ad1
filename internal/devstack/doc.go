// Package devstack builds and runs the real local stack forkline is tested and
// demonstrated on: etcd, kube-apiserver, Porch's function runner,
// porch-server (aggregated into kube-apiserver) and a git smart-HTTP server,
// all on loopback. It owns every process it starts and stops them all,
// including when a test fails or is interrupted.
//
// The binaries are built from the tool modules under tools/ into ./bin,
// keyed by the pinned version, so only the first run pays for the build.
package devstack
