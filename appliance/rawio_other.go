//go:build !linux

package appliance

import "syscall"

// rawRead and rawWrite read or write p on the non-blocking socket fd (rawio_linux.go skips the
// runtime's bookkeeping; elsewhere the plain calls).
func rawRead(fd uintptr, p []byte) (int, syscall.Errno)  { return errnoOf(syscall.Read(int(fd), p)) }
func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) { return errnoOf(syscall.Write(int(fd), p)) }

func errnoOf(n int, err error) (int, syscall.Errno) {
	if err == nil {
		return n, 0
	}
	if errno, ok := err.(syscall.Errno); ok {
		return 0, errno
	}
	return 0, syscall.EIO
}
