package github

import "testing"

func TestWebURL(t *testing.T) {
	for api, want := range map[string]string{
		"":                                  "https://github.com",
		"https://api.github.com/":           "https://github.com",
		"https://ghe.example.com/api/v3/":   "https://ghe.example.com",
		"https://ghe.example.com/api/v3":    "https://ghe.example.com",
		"http://127.0.0.1:4321/api/v3/":     "http://127.0.0.1:4321",
		"https://example.com/github/api/v3": "https://example.com/github",
	} {
		if got := WebURL(api); got != want {
			t.Errorf("WebURL(%q) = %q, want %q", api, got, want)
		}
	}
}
