package runx

import (
	"bytes"
	"fmt"
	"sync"
)

// limitedBuffer keeps a program's output up to max bytes. The write that
// would pass the limit fails, which makes os/exec close the pipe, and full
// is closed so that Run stops the program.
type limitedBuffer struct {
	max  int64
	buf  bytes.Buffer
	full chan struct{}
	once sync.Once
	over bool
}

func newLimitedBuffer(max int64) *limitedBuffer {
	return &limitedBuffer{max: max, full: make(chan struct{})}
}

// Write is called from one goroutine of os/exec only; exceeded is read
// after Wait returned, which orders it after every Write.
func (b *limitedBuffer) Write(p []byte) (int, error) {
	if int64(b.buf.Len())+int64(len(p)) > b.max {
		b.over = true
		b.once.Do(func() { close(b.full) })
		return 0, fmt.Errorf("output exceeds %d bytes", b.max)
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) exceeded() bool { return b.over }

// headTail keeps the first and the last keep bytes written to it, and how
// many bytes were left out between them.
type headTail struct {
	keep    int
	head    []byte
	tail    []byte // a ring of keep bytes once full
	next    int    // where the ring is written next
	skipped int64  // bytes that left the ring
}

func (h *headTail) Write(p []byte) (int, error) {
	n := len(p)
	if room := h.keep - len(h.head); room > 0 {
		k := min(room, len(p))
		h.head = append(h.head, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 {
		if len(h.tail) < h.keep {
			k := min(h.keep-len(h.tail), len(p))
			h.tail = append(h.tail, p[:k]...)
			p = p[k:]
			continue
		}
		k := copy(h.tail[h.next:], p)
		h.skipped += int64(k)
		h.next = (h.next + k) % h.keep
		p = p[k:]
	}
	return n, nil
}

// Bytes returns what was kept, with a marker where bytes were left out.
func (h *headTail) Bytes() []byte {
	out := make([]byte, 0, len(h.head)+len(h.tail)+64)
	out = append(out, h.head...)
	if h.skipped > 0 {
		out = fmt.Appendf(out, "\n[… %d bytes left out …]\n", h.skipped)
	}
	out = append(out, h.tail[h.next:]...)
	out = append(out, h.tail[:h.next]...)
	return out
}
