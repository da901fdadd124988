package testkit

import (
	"bufio"
	"fmt"
	"net"
	"testing"
	"time"
)

// MustStallGET sends GET target to the HTTP server at addr (host:port) on
// a connection with a small receive buffer, reads the status line of the
// answer and then reads no more, as a client that hung would: the
// server's writes of a long body fill the socket buffers and block. The
// connection closes when the test ends. It returns the status line,
// without its line end.
func MustStallGET(tb testing.TB, addr, target string) string {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		tb.Fatalf("stalled GET %s: %v", target, err)
	}
	tb.Cleanup(func() { _ = conn.Close() }) // the client is done when the test is
	// Set after the connect, the buffer still bounds the window this
	// side offers.
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		tb.Fatalf("stalled GET %s: %v", target, err)
	}
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		tb.Fatalf("stalled GET %s: %v", target, err)
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, addr); err != nil {
		tb.Fatalf("stalled GET %s: %v", target, err)
	}
	line, err := bufio.NewReaderSize(conn, 16).ReadString('\n')
	if err != nil {
		tb.Fatalf("stalled GET %s: read status line: %v", target, err)
	}
	return line[:len(line)-len("\r\n")]
}
