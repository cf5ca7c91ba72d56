package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// CheckWithin runs the health check check with a context that ends after
// timeout. When the check fails because the timeout ran out, and not ctx,
// its error is "no answer within <timeout>".
func CheckWithin(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := check(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s", timeout)
	}
	return err
}

// CheckURL is an HTTP health check: a GET of raw with client must answer
// with a 2xx status. The status is written to log. A password in the URL
// is shown as xxxxx in log and in the errors of the request.
func CheckURL(ctx context.Context, client *http.Client, raw string, log io.Writer) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password and all
		}
		return fmt.Errorf("health URL does not parse: %w", err)
	}
	shown := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", shown, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, password and all
		}
		return fmt.Errorf("GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(log, "GET %s: %s\n", shown, resp.Status)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", shown, resp.Status)
	}
	return nil
}
