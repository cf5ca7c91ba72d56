package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

// fakeLinker knows one good token, and links it once.
type fakeLinker struct {
	mu    sync.Mutex
	links map[string]string // token → user
}

const goodToken = "tok.good"

func (l *fakeLinker) CheckLink(token string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case token != goodToken:
		return "", fmt.Errorf("%w: this link address is not valid or has expired; say link in the chat again", pipeline.ErrInvalid)
	case l.links[token] != "":
		return "", fmt.Errorf("%w: this link address was used already; say link in the chat again", pipeline.ErrConflict)
	}
	return "the Slack account U123 of workspace T123", nil
}

func (l *fakeLinker) Link(_ context.Context, token, user string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.links == nil {
		l.links = map[string]string{}
	}
	l.links[token] = user
	return nil
}

func (l *fakeLinker) linked(token string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.links[token]
}

func TestLink(t *testing.T) {
	linker := &fakeLinker{}
	f := newFixture(t, setup{linker: linker})

	anon := f.client()
	if res := f.get(anon, "/link/"+goodToken); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next="+url.QueryEscape("/link/"+goodToken) {
		t.Fatalf("signed out: %d %s, want a redirect to sign in and back", res.StatusCode, res.Header.Get("Location"))
	}

	bob := f.signIn("bob", bobPassword)
	res := f.get(bob, "/link/"+goodToken)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Link the Slack account U123 of workspace T123 to your ferry user <b>bob</b>?") {
		t.Fatalf("link page: %d\n%s", res.StatusCode, res.Body)
	}
	if res := f.postForm(bob, "/link/"+goodToken, url.Values{}); res.StatusCode != http.StatusForbidden || linker.linked(goodToken) != "" {
		t.Fatalf("post without CSRF: %d, linked %q", res.StatusCode, linker.linked(goodToken))
	}
	csrf := f.csrf(bob)
	res = f.postForm(bob, "/link/"+goodToken, url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "now acts as <b>bob</b>") || linker.linked(goodToken) != "bob" {
		t.Fatalf("confirm: %d, linked %q\n%s", res.StatusCode, linker.linked(goodToken), res.Body)
	}
	if res := f.postForm(bob, "/link/"+goodToken, url.Values{"csrf": {csrf}}); res.StatusCode != http.StatusConflict || !strings.Contains(res.Body, "was used already") {
		t.Fatalf("second use: %d\n%s", res.StatusCode, res.Body)
	}
	if res := f.get(bob, "/link/forged"); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "not valid or has expired") {
		t.Fatalf("forged token: %d\n%s", res.StatusCode, res.Body)
	}
}

func TestNoLinkerNoLinkPages(t *testing.T) {
	f := newFixture(t)
	bob := f.signIn("bob", bobPassword)
	if res := f.get(bob, "/link/"+goodToken); res.StatusCode != http.StatusNotFound {
		t.Fatalf("without a linker: %d, want 404", res.StatusCode)
	}
}

func TestGoldenLinkPages(t *testing.T) {
	f := newFixture(t, setup{linker: &fakeLinker{}})
	v := &viewer{session: session{Name: "bob", Expires: t0.Add(sessionTTL), Nonce: "fixed-nonce"}, Actor: f.users.Actor("bob")}
	v.CSRF = f.srv.csrf(v.session)
	// In this order: the page that asks, then the answer, which uses the
	// link address up.
	for _, page := range []struct {
		name, method string
		serve        func(http.ResponseWriter, *http.Request, *viewer)
	}{
		{"link.html", http.MethodGet, f.srv.linkPage},
		{"link_done.html", http.MethodPost, f.srv.link},
	} {
		name, method, serve := page.name, page.method, page.serve
		req := httptest.NewRequest(method, "/link/"+goodToken, nil)
		req.SetPathValue("token", goodToken)
		rec := httptest.NewRecorder()
		serve(rec, req, v)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d\n%s", name, rec.Code, rec.Body)
		}
		golden(t, name, rec.Body.String())
	}
}
