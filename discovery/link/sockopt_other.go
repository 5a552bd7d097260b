//go:build !unix

package link

import "syscall"

// reuseAddr is a no-op where jamd does not run; the port is then this app's alone.
func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }
