package storage

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"sync"
)

// Delivery bodies are stored deflated: a 28 KB JSON webhook is about a
// sixth of that. Compressing runs on the caller's goroutine, before its
// write joins a group commit, so that the one writer copies and logs a
// sixth of the bytes, and the database is a sixth of the size.

// deflated names the encoding of a compressed body in body_encoding.
const deflated = "deflate"

// maxBody bounds a body read back, against a corrupt row inflating without
// end: ingress caps what it stores well below it.
const maxBody = 64 << 20

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // BestSpeed is a valid level
	return w
}}

// packBody returns how to store body: deflated, or as it is when that is
// not smaller (or it is nil).
func packBody(body []byte) ([]byte, string) {
	if len(body) < 256 {
		return body, ""
	}
	var b bytes.Buffer
	b.Grow(len(body) / 4)
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(&b)
	if _, err := w.Write(body); err != nil || w.Close() != nil || b.Len() >= len(body) {
		return body, ""
	}
	return b.Bytes(), deflated
}

// unpackBody reads back what packBody stored; a body pruned (NULL) is nil.
func unpackBody(stored []byte, encoding string) ([]byte, error) {
	switch {
	case stored == nil:
		return nil, nil
	case encoding == "":
		return stored, nil
	case encoding == deflated:
		r := flate.NewReader(bytes.NewReader(stored))
		defer r.Close()
		body, err := io.ReadAll(io.LimitReader(r, maxBody+1))
		if err == nil && len(body) > maxBody {
			err = fmt.Errorf("more than %d bytes", maxBody)
		}
		if err != nil {
			return nil, fmt.Errorf("inflate the stored body: %w", err)
		}
		return body, nil
	}
	return nil, fmt.Errorf("a body stored as %q, which this ferry cannot read; upgrade it", encoding)
}
