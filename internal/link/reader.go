package link

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errVersion: a hello of another version of the protocol, which the
// accepting side answers with its own (Link.serve).
var errVersion = fmt.Errorf("%w: hello: another version of the link's protocol", ErrProtocol)

// readBuffer is the size of a connection's read buffer: a batch of small
// frames is read with one system call.
const readBuffer = 64 << 10

// reader decodes the link's protocol from one connection.
type reader struct {
	r        *bufio.Reader
	maxFrame int
	body     []byte // reused for frames that do not fit the bufio buffer
}

func newReader(r io.Reader, maxFrame int) *reader {
	return &reader{r: bufio.NewReaderSize(r, readBuffer), maxFrame: maxFrame}
}

// hello reads the connection's hello and returns the sender's address.
func (r *reader) hello() (string, error) {
	var h [len(magic) + 3]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return "", fmt.Errorf("%w: hello: %v", ErrProtocol, err)
	}
	if string(h[:len(magic)]) != magic {
		return "", fmt.Errorf("%w: hello: not a bourse link (first bytes %q)", ErrProtocol, h[:len(magic)])
	}
	if v := h[len(magic)]; v != version {
		return "", fmt.Errorf("%w: the peer speaks version %d, this node %d", errVersion, v, version)
	}
	n := int(binary.BigEndian.Uint16(h[len(magic)+1:]))
	if n == 0 {
		return "", fmt.Errorf("%w: hello: empty sender address", ErrProtocol)
	}
	addr := make([]byte, n)
	if _, err := io.ReadFull(r.r, addr); err != nil {
		return "", fmt.Errorf("%w: hello: sender address: %v", ErrProtocol, err)
	}
	return string(addr), nil
}

// frames reads frames and hands the caller's to fn, and the link's pings
// and pongs to ctl, until a goodbye (nil) or an error: the connection's,
// ErrProtocol or ErrFrameTooLarge.
func (r *reader) frames(fn func(kind byte, body []byte), ctl func(sub byte, stamp uint64)) error {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: truncated frame header", ErrProtocol)
			}
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		if n == 0 {
			return fmt.Errorf("%w: zero-length frame", ErrProtocol)
		}
		kind := hdr[4]
		if kind == KindLink { // before the size check: MaxFrame is for the caller's frames
			if n == 1 {
				return nil // goodbye
			}
			if err := r.control(n-1, ctl); err != nil {
				return err
			}
			continue
		}
		if n > r.maxFrame || n < 0 {
			return fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, n, r.maxFrame)
		}
		size := n - 1
		var body []byte
		if size <= r.r.Size() {
			// Peek returns the frame in place in the read buffer: no copy.
			b, err := r.r.Peek(size)
			if err != nil {
				return truncated(err)
			}
			body = b
		} else {
			if cap(r.body) < size {
				r.body = make([]byte, size)
			}
			body = r.body[:size]
			if _, err := io.ReadFull(r.r, body); err != nil {
				return truncated(err)
			}
		}
		fn(kind, body)
		if size <= r.r.Size() {
			_, _ = r.r.Discard(size)
		} else if cap(r.body) > shrinkAbove {
			r.body = nil
		}
	}
}

// control reads the body (size bytes) of a ping or a pong and hands it to
// ctl.
func (r *reader) control(size int, ctl func(sub byte, stamp uint64)) error {
	if size != controlBody {
		return fmt.Errorf("%w: a link frame of %d bytes (a goodbye has 0, a ping or a pong %d)", ErrProtocol, size, controlBody)
	}
	b, err := r.r.Peek(size)
	if err != nil {
		return truncated(err)
	}
	sub, stamp := b[0], binary.BigEndian.Uint64(b[1:])
	if sub != subPing && sub != subPong {
		return fmt.Errorf("%w: a link frame of unknown sub-kind %d", ErrProtocol, sub)
	}
	_, _ = r.r.Discard(size)
	ctl(sub, stamp)
	return nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated frame", ErrProtocol)
	}
	return err
}
