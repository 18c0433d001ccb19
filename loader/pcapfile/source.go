package pcapfile

import (
	"errors"
	"io"
)

const (
	// defaultBufSize is the read buffer a reader starts with: large enough
	// that a file is read in few system calls, small enough to be irrelevant.
	defaultBufSize = 128 << 10
	// maxBlockLen bounds any block or record the reader must hold whole
	// (packets, interface descriptions). Real captures stay far below it
	// (dumpcap's snaplen is 256 KiB); a length above it is corruption, and
	// refusing it keeps a hostile file from making the reader allocate.
	maxBlockLen = 16 << 20
)

// source is a buffered reader that hands out slices of its own buffer, so
// that a packet is read from the file into memory once and never copied.
//
// Its buffer only grows by doubling when it is full of bytes actually read,
// so a block that claims a huge length in a small file costs at most twice
// the file's size, not the claimed length.
type source struct {
	r        io.Reader
	buf      []byte
	pos, end int   // buf[pos:end] is read but not yet consumed
	off      int64 // file offset of buf[pos]
	err      error // sticky error from r (io.EOF included)
}

func newSource(r io.Reader, size int64) *source {
	n := defaultBufSize
	if size >= 0 && size < int64(n) {
		n = max(int(size), 64)
	}
	return &source{r: r, buf: make([]byte, n)}
}

// buffered reports how many bytes are available without reading.
func (s *source) buffered() int { return s.end - s.pos }

// need makes at least n bytes available. It returns io.EOF if the input ended
// with no byte left and io.ErrUnexpectedEOF if it ended with fewer than n;
// buffered then tells how many there were.
func (s *source) need(n int) error {
	if s.end-s.pos >= n {
		return nil
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	for s.end < n {
		if s.err != nil {
			if s.end == 0 && errors.Is(s.err, io.EOF) {
				return io.EOF
			}
			if errors.Is(s.err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return s.err
		}
		if s.end == len(s.buf) {
			grown := make([]byte, 2*len(s.buf))
			copy(grown, s.buf[:s.end])
			s.buf = grown
		}
		s.fill()
	}
	return nil
}

// fill reads once into the free part of the buffer, recording the error.
func (s *source) fill() {
	// io.Reader may return 0, nil; give up after a few in a row rather than spin.
	for range 100 {
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		if err != nil {
			s.err = err
			return
		}
		if m > 0 {
			return
		}
	}
	s.err = io.ErrNoProgress
}

// peek returns the next n bytes without consuming them; need(n) must have
// succeeded.
func (s *source) peek(n int) []byte { return s.buf[s.pos : s.pos+n] }

// take consumes and returns the next n bytes; need(n) must have succeeded.
// The slice is valid until the next call to need or skip.
func (s *source) take(n int) []byte {
	b := s.buf[s.pos : s.pos+n]
	s.pos += n
	s.off += int64(n)
	return b
}

// skip consumes n bytes without holding them, through the buffer as it is,
// so that skipping a large unknown block allocates nothing. It returns
// io.ErrUnexpectedEOF if the input ends first.
func (s *source) skip(n int64) error {
	for n > 0 {
		if s.pos == s.end {
			s.pos, s.end = 0, 0
			if s.err != nil {
				if errors.Is(s.err, io.EOF) {
					return io.ErrUnexpectedEOF
				}
				return s.err
			}
			s.fill()
			continue
		}
		k := int(min(n, int64(s.end-s.pos)))
		s.pos += k
		s.off += int64(k)
		n -= int64(k)
	}
	return nil
}
