package bot

import (
	"errors"
	"io"
	"net/http"
)

// ReadBody reads a webhook's body of at most limit bytes. When the body is
// larger (413) or cannot be read (400) it answers the request itself and
// reports false, so ingress adapters refuse oversized requests alike.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.ContentLength > limit {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}
