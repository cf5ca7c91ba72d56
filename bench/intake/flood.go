package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// The flood (--flood) is what an attacker does to an ingress that reads
// bodies before it checks them: many connections each posting a body of
// GitHub's largest size, slowly, under a well-formed signature that is
// not the HMAC, and stopping one byte short. Meanwhile the console is
// asked for its sign-in page every tick, and ferry's resident memory read.
const (
	floodBody  = 25 << 20               // bytes each connection declares
	floodChunk = 256 << 10              // bytes written at a time
	floodPace  = 50 * time.Millisecond  // between two chunks of a connection
	floodTick  = 100 * time.Millisecond // between two looks at ferry
)

// floodResult is what a flood measured.
type floodResult struct {
	conns     int
	answers   map[string]int // what the posts got: a status, or how they ended
	peakRSS   int64          // bytes, the highest of the samples and VmHWM
	startRSS  int64
	console   []time.Duration // latency of each console request answered 200
	consoleOf int             // console requests made
	elapsed   time.Duration
}

// flood posts from conns connections for d, then closes them all.
func flood(ctx context.Context, f *ferry, conns int, d time.Duration) floodResult {
	r := floodResult{conns: conns, answers: map[string]int{}}
	r.startRSS, _ = rss(f.pid)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			answer := slowPost(ctx, strings.TrimPrefix(f.url, "http://"), i)
			mu.Lock()
			r.answers[answer]++
			mu.Unlock()
		})
	}
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(floodTick)
	defer tick.Stop()
	for ctx.Err() == nil {
		if m, ok := rss(f.pid); ok {
			r.peakRSS = max(r.peakRSS, m)
		}
		r.consoleOf++
		t := time.Now()
		if res, err := client.Get(f.url + "/login"); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				r.console = append(r.console, time.Since(t))
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	if hwm, ok := status(f.pid, "VmHWM:"); ok {
		r.peakRSS = max(r.peakRSS, hwm)
	}
	return r
}

// slowPost sends one slow post on a connection of its own and says how it
// ended: the status ferry answered, or "open at the end" when ferry had
// not answered by the time ctx ended.
func slowPost(ctx context.Context, addr string, i int) string {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return "could not connect"
	}
	defer conn.Close()
	go func() { <-ctx.Done(); conn.Close() }()
	answered := make(chan string, 1)
	go func() {
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- "closed without an answer"
			return
		}
		res.Body.Close()
		answered <- strconv.Itoa(res.StatusCode)
	}()
	fmt.Fprintf(conn, "POST /hooks/github HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/json\r\n"+
		"X-GitHub-Event: push\r\nX-GitHub-Delivery: flood-%d\r\nX-Hub-Signature-256: sha256=%s\r\nContent-Length: %d\r\n\r\n",
		i, strings.Repeat("0", 64), floodBody)
	chunk := make([]byte, floodChunk)
	for sent := 0; sent < floodBody-1; {
		n := min(len(chunk), floodBody-1-sent)
		if _, err := conn.Write(chunk[:n]); err != nil {
			break
		}
		sent += n
		select {
		case a := <-answered:
			return a
		case <-ctx.Done():
			return "open at the end"
		case <-time.After(floodPace):
		}
	}
	select { // one byte short: wait for ferry
	case a := <-answered:
		return a
	case <-ctx.Done():
		return "open at the end"
	}
}

// writeFlood prints a flood's table.
func writeFlood(w io.Writer, r floodResult) error {
	slices.Sort(r.console)
	p50, _ := quantile(r.console, 0.50)
	p99, ok := quantile(r.console, 0.99)
	lat := "-"
	if ok {
		lat = millis(p50) + " / " + millis(p99)
	}
	var answers []string
	for _, a := range slices.Sorted(maps.Keys(r.answers)) {
		answers = append(answers, fmt.Sprintf("%s ×%d", a, r.answers[a]))
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "flood\tposts answered\tferry RSS (start → peak)\tconsole answered\tconsole p50 / p99")
	fmt.Fprintf(tw, "%d slow %s posts for %s\t%s\t%s → %s\t%d of %d\t%s\n", r.conns, size(floodBody), r.elapsed.Round(time.Second),
		strings.Join(answers, ", "), size(r.startRSS), size(r.peakRSS), len(r.console), r.consoleOf, lat)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "each post: %s declared, %s every %s, one byte short, under a well-formed signature that is not the HMAC\n",
		size(floodBody), size(floodChunk), floodPace)
	return err
}
