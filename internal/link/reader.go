package link

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

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
		return "", fmt.Errorf("%w: hello: version %d, this node speaks %d", ErrProtocol, v, version)
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

// frames reads frames and hands them to fn until a goodbye (nil) or an
// error: the connection's, ErrProtocol or ErrFrameTooLarge.
func (r *reader) frames(fn func(kind byte, body []byte)) error {
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
		if n > r.maxFrame || n < 0 {
			return fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, n, r.maxFrame)
		}
		kind := hdr[4]
		if kind == KindGoodbye {
			return nil
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

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated frame", ErrProtocol)
	}
	return err
}
