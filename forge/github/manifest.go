package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v88/github"
)

// AppCredentials are what GitHub hands over once when it creates an App
// from a manifest: its ID, webhook secret and private key.
type AppCredentials struct {
	ID            int64
	Slug, HTMLURL string
	WebhookSecret string
	PrivateKey    string // PEM
}

// ConvertManifest exchanges the code GitHub sent to the manifest flow's
// redirect for the new App's credentials (POST
// /app-manifests/{code}/conversions, which takes no authentication). apiURL
// "" is api.github.com.
func ConvertManifest(ctx context.Context, apiURL, code string) (AppCredentials, error) {
	opts := []gh.ClientOptionsFunc{gh.WithHTTPClient(&http.Client{Timeout: apiTimeout})}
	if apiURL != "" {
		opts = append(opts, gh.WithEnterpriseURLs(apiURL, apiURL))
	}
	c, err := gh.NewClient(opts...)
	if err != nil {
		return AppCredentials{}, fmt.Errorf("github: API client: %w", err)
	}
	cfg, _, err := c.Apps.CompleteAppManifest(ctx, url.PathEscape(code))
	if err != nil {
		// Not err itself: its text has the request's URL, which holds
		// the code.
		var ge *gh.ErrorResponse
		var ue *url.Error
		switch {
		case errors.As(err, &ge):
			err = fmt.Errorf("GitHub answered %d: %s", ge.Response.StatusCode, ge.Message)
		case errors.As(err, &ue):
			err = ue.Err
		}
		return AppCredentials{}, fmt.Errorf("github: the App manifest's code was refused (it is good for one exchange, within an hour): %w", err)
	}
	return AppCredentials{ID: cfg.GetID(), Slug: cfg.GetSlug(), HTMLURL: cfg.GetHTMLURL(),
		WebhookSecret: cfg.GetWebhookSecret(), PrivateKey: cfg.GetPEM()}, nil
}

// WebURL is GitHub's web address for an API address: github.com for ""
// or api.github.com, the host of a GitHub Enterprise Server's /api/v3.
func WebURL(apiURL string) string {
	u, err := url.Parse(apiURL)
	if apiURL == "" || err != nil || u.Host == "api.github.com" {
		return "https://github.com"
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3")
	return strings.TrimRight(u.String(), "/")
}
