package appliance

import (
	"cmp"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller reads every WebSocket of the hub from one goroutine: an epoll set holds the sockets
// (edge-triggered), and the runtime's own poller wakes that goroutine when the set has news, so
// it never blocks a thread. See read.go for what happens to what it reads.
type poller struct {
	file *os.File        // the epoll set, for the runtime's poller
	rc   syscall.RawConn // file's, to use its descriptor safely
	mu   sync.Mutex
	byID map[int32]*Client // by the id its events carry (not the descriptor: those are reused)
	next int32
}

func newPoller() (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "epoll")
	if err := f.SetReadDeadline(time.Time{}); err != nil { // the runtime cannot poll it
		f.Close()
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &poller{file: f, rc: rc, byID: map[int32]*Client{}}
	go p.run()
	return p, nil
}

// add has the poller read c's socket from now on.
func (p *poller) add(c *Client) error {
	p.mu.Lock()
	for p.next++; p.next <= 0 || p.byID[p.next] != nil; p.next++ {
		if p.next <= 0 {
			p.next = 0
		}
	}
	id := p.next
	p.byID[id] = c
	c.pollID = id
	p.mu.Unlock()
	var ctlErr, sockErr error
	err := p.rc.Control(func(epfd uintptr) {
		sockErr = c.raw.Control(func(fd uintptr) {
			ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: id}
			ctlErr = unix.EpollCtl(int(epfd), unix.EPOLL_CTL_ADD, int(fd), &ev)
		})
	})
	err = cmp.Or(err, sockErr, ctlErr)
	if err != nil {
		p.forget(c)
	}
	return err
}

// forget drops c, whose socket is closed (closing it took it out of the epoll set).
func (p *poller) forget(c *Client) {
	p.mu.Lock()
	if p.byID[c.pollID] == c {
		delete(p.byID, c.pollID)
	}
	p.mu.Unlock()
}

// close stops the poller.
func (p *poller) close() { p.file.Close() }

// run reads the sockets the set reports, until the poller is closed. A socket that still had
// data after its share of reads (readSocket's more) is read again on the next round, before the
// poller parks: with edge triggering, no new event would say it has data.
func (p *poller) run() {
	events := make([]unix.EpollEvent, 256)
	var ready, again []*Client
	var hups []bool
	buf := make([]byte, pollBufferSize)
	for {
		var n int
		var err error
		if len(again) == 0 {
			err = p.rc.Read(func(epfd uintptr) bool {
				n = epollWaitNow(epfd, events)
				return n > 0 // else the runtime parks us until the set has news
			})
		} else {
			err = p.rc.Control(func(epfd uintptr) { n = epollWaitNow(epfd, events) })
		}
		if err != nil {
			return // closed
		}
		ready = append(ready, again...)
		hups = append(hups, make([]bool, len(again))...)
		again = again[:0]
		p.mu.Lock()
		for _, ev := range events[:n] {
			if c := p.byID[ev.Fd]; c != nil {
				ready = append(ready, c)
				hups = append(hups, ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0)
			}
		}
		p.mu.Unlock()
		for i, c := range ready {
			if c.readSocket(buf, hups[i]) {
				again = append(again, c)
			}
		}
		clear(ready)
		ready, hups = ready[:0], hups[:0]
	}
}

// epollWaitNow takes the set's ready events without waiting (raw: it never blocks). epoll_pwait
// with no signal mask is epoll_wait, and the only one arm64 has.
func epollWaitNow(epfd uintptr, events []unix.EpollEvent) int {
	n, _, errno := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, epfd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(n)
}
