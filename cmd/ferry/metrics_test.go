package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// get answers a GET of url with an Authorization header (none when auth
// is ""): its status and body.
func get(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMetricsListenerAndToken: with metrics.listen and metrics.token,
// /metrics is served on its own address only, and only to the token.
func TestMetricsListenerAndToken(t *testing.T) {
	cfgPath, _, _ := e2eConfig(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	const token = "scrape-token-0123456789abcdef"
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("metrics: {listen: '" + metricsAddr + "', token: " + token + "}\n")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, server := startServer(t, cfgPath)
	if code, body := get(t, server+"/metrics", "Bearer "+token); code == http.StatusOK || strings.Contains(body, "ferry_deploys") {
		t.Errorf("the main listener still serves /metrics: %d", code)
	}
	url := "http://" + metricsAddr + "/metrics"
	for _, auth := range []string{"", "Bearer wrong-token-0123456789abcdef", token, "Basic " + token} {
		if code, body := get(t, url, auth); code != http.StatusUnauthorized || !strings.Contains(body, "metrics.token") {
			t.Errorf("Authorization %q: %d %q; want 401 naming metrics.token", auth, code, body)
		}
	}
	if code, body := get(t, url, "Bearer "+token); code != http.StatusOK || !strings.Contains(body, "ferry_deploys") {
		t.Errorf("with the token: %d; want 200 with the metrics", code)
	}
	if log, _ := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), "ferry.log")); strings.Contains(string(log), token) {
		t.Error("the token is in ferry's log")
	}
}
