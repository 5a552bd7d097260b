package appliance

import (
	"syscall"
	"unsafe"
)

// rawRead and rawWrite read or write p on the non-blocking socket fd. They skip the runtime's
// entersyscall: such a call never blocks, and on a busy box that spares waking the runtime's
// monitor thread (sysmon) for every delivery, which then polled every 20 µs (profiled: a tenth
// of jamd's CPU).
func rawRead(fd uintptr, p []byte) (int, syscall.Errno)  { return rawIO(syscall.SYS_READ, fd, p) }
func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) { return rawIO(syscall.SYS_WRITE, fd, p) }

func rawIO(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	for {
		n, _, errno := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != syscall.EINTR {
			return int(n), errno
		}
	}
}
