//go:build unix

package websock

import "syscall"

// canPoll: on unix a plain socket is polled for readability, so that an
// idle connection holds no read buffer.
const canPoll = true

// pollRead waits until the socket has bytes (or the read deadline
// passes) and only then takes a read buffer from the pool and reads into
// it: a connection parked here holds none.
func pollRead(c *Conn) (int, error) {
	var n int
	var serr error
	err := c.raw.Read(func(fd uintptr) bool {
		if c.rbuf == nil {
			c.rbuf = readBufs.Get().(*[]byte)
		}
		for {
			n, serr = syscall.Read(int(fd), *c.rbuf)
			if serr != syscall.EINTR {
				break
			}
		}
		if serr == syscall.EAGAIN {
			readBufs.Put(c.rbuf)
			c.rbuf = nil
			return false // wait for readability, then try again
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return max(n, 0), nil
}
