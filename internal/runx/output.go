package runx

import (
	"bytes"
	"fmt"
	"slices"
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

// HeadTail is a writer that keeps the first and the last bytes written to
// it, and counts those left out between them: a bounded record of output
// whose start says what went wrong first and whose end says why a program
// gave up. It is safe for concurrent use.
type HeadTail struct {
	mu      sync.Mutex
	headMax int
	tailMax int
	head    []byte
	tail    []byte // a ring of tailMax bytes once full
	next    int    // where the ring is written next
	skipped int64  // bytes that left the ring
}

// NewHeadTail keeps the first head and the last tail bytes.
func NewHeadTail(head, tail int) *HeadTail {
	return &HeadTail{headMax: max(head, 0), tailMax: max(tail, 0)}
}

func (h *HeadTail) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(p)
	if room := h.headMax - len(h.head); room > 0 {
		k := min(room, len(p))
		h.head = append(h.head, p[:k]...)
		p = p[k:]
	}
	if h.tailMax == 0 {
		h.skipped += int64(len(p))
		return n, nil
	}
	for len(p) > 0 {
		if len(h.tail) < h.tailMax {
			k := min(h.tailMax-len(h.tail), len(p))
			h.tail = append(h.tail, p[:k]...)
			p = p[k:]
			continue
		}
		k := copy(h.tail[h.next:], p)
		h.skipped += int64(k)
		h.next = (h.next + k) % h.tailMax
		p = p[k:]
	}
	return n, nil
}

// Bytes returns what was kept, with a marker where bytes were left out.
func (h *HeadTail) Bytes() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]byte, 0, len(h.head)+len(h.tail)+64)
	out = append(out, h.head...)
	if h.skipped > 0 {
		out = fmt.Appendf(out, "\n[… %d bytes left out …]\n", h.skipped)
	}
	out = append(out, h.tail[h.next:]...)
	out = append(out, h.tail[:h.next]...)
	return out
}

// Tail returns the last bytes kept, without the head or a marker.
func (h *HeadTail) Tail() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.skipped == 0 {
		return slices.Concat(h.head, h.tail)
	}
	return slices.Concat(h.tail[h.next:], h.tail[:h.next])
}
