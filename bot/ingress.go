package bot

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// Ingress bounds what the webhook and chat routes take in, all of them
// together: how many requests are read at once, how many body bytes are
// held at once, and how long a body may take to arrive. What is beyond a
// bound is refused at once with 503 and Retry-After, which every platform
// retries, so that a flood of large or slow requests costs ferry a bounded
// amount of memory and leaves the console answering. A route checks that
// a request is signed at all before it reads the body, and has the body
// written through its MAC as it arrives.
//
// One Ingress serves every platform; it is safe for concurrent use.
type Ingress struct {
	slots   chan struct{} // one per request being served
	budget  atomic.Int64  // body bytes that may still be taken
	timeout time.Duration
}

// IngressLimits are an Ingress's bounds; each zero value means its default.
type IngressLimits struct {
	// Requests served at once, over every ingress route; 0 means 128.
	Requests int
	// Memory is how many body bytes are held at once; 0 means 32 MiB. It
	// must be at least the largest body a platform may send.
	Memory int64
	// Timeout is how long a request's body may take to arrive, from when
	// its route starts reading it; 0 means 10 s.
	Timeout time.Duration
}

// NewIngress returns an Ingress with limits.
func NewIngress(limits IngressLimits) *Ingress {
	if limits.Requests <= 0 {
		limits.Requests = 128
	}
	if limits.Memory <= 0 {
		limits.Memory = 32 << 20
	}
	if limits.Timeout <= 0 {
		limits.Timeout = 10 * time.Second
	}
	in := &Ingress{slots: make(chan struct{}, limits.Requests), timeout: limits.Timeout}
	in.budget.Store(limits.Memory)
	return in
}

// retryAfter is what a refused sender is told to wait, in seconds.
const busyRetry = "1"

// Route serves h within the bound on requests; beyond it, a request is
// answered 503 without its body being read, and counted in refused.
func (in *Ingress) Route(refused *Refusals, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case in.slots <- struct{}{}:
			defer func() { <-in.slots }()
			h.ServeHTTP(w, r)
		default:
			refused.Refuse(r.Context(), "too many requests at once")
			busy(w)
		}
	})
}

func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", busyRetry)
	http.Error(w, "ferry is busy; retry in a moment", http.StatusServiceUnavailable)
}

// firstRead is the buffer a body of undeclared length starts with; it
// doubles as the body arrives, each step taken from the budget.
const firstRead = 64 << 10

// Read reads r's body, of at most limit bytes, writing it through mac (nil
// for none) as it arrives, and returns it with the function that gives its
// bytes back to the budget, to be called once the body is no longer used.
// When the body cannot be read (400), is larger than limit (413), takes
// longer than the timeout to arrive (408) or does not fit in the budget
// (503), Read answers the request itself, counts the refusal in refused
// and reports false.
func (in *Ingress) Read(w http.ResponseWriter, r *http.Request, limit int64, mac io.Writer, refused *Refusals) ([]byte, func(), bool) {
	ctx := r.Context()
	if r.ContentLength > limit {
		refused.Refuse(ctx, "body too large")
		http.Error(w, "request too large: at most "+strconv.FormatInt(limit, 10)+" bytes", http.StatusRequestEntityTooLarge)
		return nil, nil, false
	}
	// A deadline the server does not support (a test's recorder) leaves
	// the body to the server's own timeouts. The server sets the next
	// request's deadline itself.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(in.timeout))
	b := bodyReader{in: in, max: limit + 1} // one byte more tells a body too large
	if r.ContentLength >= 0 {
		b.max = r.ContentLength + 1 // the server reads no more than declared
	}
	body, err := b.read(r.Body, mac, r.ContentLength >= 0)
	if err == nil && int64(len(body)) > limit {
		err = errTooLarge
	}
	if err == nil {
		return body, b.release, true
	}
	b.release()
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, errBudget):
		refused.Refuse(ctx, "bodies held at once over the bound")
		busy(w)
	case errors.Is(err, errTooLarge):
		refused.Refuse(ctx, "body too large")
		http.Error(w, "request too large: at most "+strconv.FormatInt(limit, 10)+" bytes", http.StatusRequestEntityTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &timeout) && timeout.Timeout(), errors.Is(err, context.DeadlineExceeded):
		refused.Refuse(ctx, "body too slow")
		http.Error(w, "the request's body took too long to arrive", http.StatusRequestTimeout)
	default:
		refused.Refuse(ctx, "body unreadable")
		http.Error(w, "cannot read the request", http.StatusBadRequest)
	}
	return nil, nil, false
}

var (
	errBudget   = errors.New("over the memory bound")
	errTooLarge = errors.New("too large")
)

// A bodyReader reads one body into a buffer of its declared length, or
// one that grows as it arrives when no length is declared, taking the
// buffer's bytes from its Ingress's budget.
type bodyReader struct {
	in    *Ingress
	max   int64 // the buffer never grows beyond
	taken int64 // from the budget
}

func (b *bodyReader) read(body io.Reader, mac io.Writer, declared bool) ([]byte, error) {
	first := min(b.max, firstRead)
	if declared {
		// The whole declared length at once: growing by doubling would
		// hold two copies at each step, and a body the budget cannot take
		// is refused before it is read.
		first = b.max
	}
	buf, err := b.grow(nil, first)
	for err == nil {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= b.max {
				return buf, errTooLarge
			}
			if buf, err = b.grow(buf, min(b.max, 2*int64(cap(buf)))); err != nil {
				break
			}
		}
		var n int
		n, err = body.Read(buf[len(buf):cap(buf)])
		if mac != nil {
			mac.Write(buf[len(buf) : len(buf)+n])
		}
		buf = buf[:len(buf)+n]
	}
	if errors.Is(err, io.EOF) {
		return buf, nil
	}
	return nil, err
}

// grow returns buf with capacity to, taking the difference from the budget.
func (b *bodyReader) grow(buf []byte, to int64) ([]byte, error) {
	step := to - int64(cap(buf))
	if b.in.budget.Add(-step) < 0 {
		b.in.budget.Add(step)
		return nil, errBudget
	}
	b.taken += step
	grown := make([]byte, len(buf), to)
	copy(grown, buf)
	return grown, nil
}

// release gives the body's bytes back to the budget; it may be called
// more than once.
func (b *bodyReader) release() {
	b.in.budget.Add(b.taken)
	b.taken = 0
}
