//go:build !unix

package websock

// canPoll is false where sockets are not polled by hand: every connection
// keeps its read buffer.
const canPoll = false

func pollRead(c *Conn) (int, error) { panic("websock: pollRead without canPoll") }
