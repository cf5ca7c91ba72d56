package bot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// read runs in.Read on a request with body, whose length is declared
// unless chunked, and returns what it read and the answer it gave.
func read(t *testing.T, in *Ingress, body []byte, chunked bool, limit int64, refused *Refusals) ([]byte, func(), *httptest.ResponseRecorder) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	if chunked {
		req.ContentLength = -1
	}
	rec := httptest.NewRecorder()
	mac := sha256.New()
	got, release, ok := in.Read(rec, req, limit, mac, refused)
	if ok != (got != nil) || ok != (release != nil) {
		t.Fatalf("Read = %d bytes, release %v, ok %v", len(got), release != nil, ok)
	}
	if ok {
		sum := sha256.Sum256(body)
		if !bytes.Equal(mac.Sum(nil), sum[:]) {
			t.Fatal("the MAC saw another body than the one read")
		}
	}
	return got, release, rec
}

func TestIngressReadsThroughMAC(t *testing.T) {
	in := NewIngress(IngressLimits{})
	for _, n := range []int{0, 1, 28 << 10, firstRead, firstRead + 1, 5*firstRead + 3} {
		for _, chunked := range []bool{false, true} {
			body := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
			got, release, rec := read(t, in, body, chunked, 1<<20, &Refusals{})
			if !bytes.Equal(got, body) {
				t.Fatalf("%d bytes, chunked %v: read %d bytes (%d: %s)", n, chunked, len(got), rec.Code, rec.Body)
			}
			release()
			release() // twice gives back nothing more
		}
	}
	if got := in.budget.Load(); got != 32<<20 {
		t.Errorf("the budget after every body was released is %d; want 32 MiB", got)
	}
}

func TestIngressTooLarge(t *testing.T) {
	in := NewIngress(IngressLimits{})
	var refused Refusals
	for _, chunked := range []bool{false, true} {
		_, _, rec := read(t, in, make([]byte, 1001), chunked, 1000, &refused)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "at most 1000 bytes") {
			t.Errorf("chunked %v: %d %q; want 413 naming the limit", chunked, rec.Code, rec.Body)
		}
	}
	if got := fmt.Sprint(refused.Counts()); got != "[{body too large 2}]" {
		t.Errorf("refusals %s", got)
	}
	if got := in.budget.Load(); got != 32<<20 {
		t.Errorf("the budget after refused bodies is %d; want all of it", got)
	}
}

// TestIngressMemoryBound: bodies held at once never take more than the
// budget; one beyond it is refused with 503 and Retry-After, and taken
// once the others are released.
func TestIngressMemoryBound(t *testing.T) {
	in := NewIngress(IngressLimits{Memory: 100 << 10})
	var refused Refusals
	body := make([]byte, 60<<10)
	_, releaseA, rec := read(t, in, body, false, 1<<20, &refused)
	if rec.Code != http.StatusOK {
		t.Fatalf("the first body: %d", rec.Code)
	}
	for _, chunked := range []bool{false, true} {
		_, _, rec = read(t, in, body, chunked, 1<<20, &refused)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("chunked %v: a body beyond the budget got %d, Retry-After %q; want 503 with Retry-After", chunked, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	releaseA()
	got, releaseB, _ := read(t, in, body, false, 1<<20, &refused)
	if len(got) != len(body) {
		t.Fatalf("after the first was released, the second read %d bytes", len(got))
	}
	releaseB()
	if got := fmt.Sprint(refused.Counts()); got != "[{bodies held at once over the bound 2}]" {
		t.Errorf("refusals %s", got)
	}
}

// TestIngressSlowBody: a body that stops short of its declared length is
// answered 408 once the timeout has passed, and its bytes go back.
func TestIngressSlowBody(t *testing.T) {
	in := NewIngress(IngressLimits{Timeout: 100 * time.Millisecond})
	var refused Refusals
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, release, ok := in.Read(w, r, 1<<20, nil, &refused); ok {
			release()
			t.Error("a body one byte short was read")
		}
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /hook HTTP/1.1\r\nHost: ferry\r\nContent-Length: 1000\r\n\r\n%s", make([]byte, 999))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a broken test, never reached when it passes
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d; want 408", res.StatusCode)
	}
	if got := fmt.Sprint(refused.Counts()); got != "[{body too slow 1}]" {
		t.Errorf("refusals %s", got)
	}
	if got := in.budget.Load(); got != 32<<20 {
		t.Errorf("the budget after a slow body is %d; want all of it", got)
	}
}

// TestIngressRequestBound: beyond Requests served at once, a request is
// answered 503 with Retry-After, without its handler running.
func TestIngressRequestBound(t *testing.T) {
	in := NewIngress(IngressLimits{Requests: 1})
	var refused Refusals
	entered, leave := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(in.Route(&refused, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-leave
	})))
	defer srv.Close()
	first := make(chan int)
	go func() {
		res, err := http.Post(srv.URL, "text/plain", strings.NewReader("one"))
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	<-entered
	res, err := http.Post(srv.URL, "text/plain", strings.NewReader("two"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("a request beyond the bound: %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	close(leave)
	if code := <-first; code != http.StatusOK {
		t.Errorf("the request within the bound: %d", code)
	}
	if got := fmt.Sprint(refused.Counts()); got != "[{too many requests at once 1}]" {
		t.Errorf("refusals %s", got)
	}
}
