package fakegithub

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
)

// Manifest is a GitHub App manifest posted to the fake, as GitHub reads it.
type Manifest struct {
	Org            string // "": the person's account
	State          string
	Name           string            `json:"name"`
	URL            string            `json:"url"`
	RedirectURL    string            `json:"redirect_url"`
	HookAttributes map[string]any    `json:"hook_attributes"`
	Permissions    map[string]string `json:"default_permissions"`
	Events         []string          `json:"default_events"`
	Public         bool              `json:"public"`
}

// AppID is the ID of the App the fake makes from a manifest.
const AppID = 4242

// Manifests returns the App manifests posted so far.
func (s *Server) Manifests() []Manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Manifest(nil), s.manifests...)
}

// manifestFlow serves GitHub's App manifest flow: POST
// /settings/apps/new (or /organizations/{org}/settings/apps/new) with the
// form field manifest, where the person confirms and GitHub redirects to
// the manifest's redirect_url with a code and the state; then POST
// /api/v3/app-manifests/{code}/conversions, once per code, answers the
// App's credentials. It reports whether it served r.
func (s *Server) manifestFlow(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/settings/apps/new"):
		var m Manifest
		if err := json.Unmarshal([]byte(r.PostFormValue("manifest")), &m); err != nil || m.RedirectURL == "" || m.HookAttributes["url"] == nil {
			http.Error(w, "Invalid GitHub App manifest: it needs JSON with redirect_url and hook_attributes.url", http.StatusUnprocessableEntity)
			return true
		}
		if org, ok := strings.CutPrefix(strings.TrimSuffix(p, "/settings/apps/new"), "/organizations/"); ok {
			m.Org = org
		}
		m.State = r.URL.Query().Get("state")
		code := randomHex(10)
		s.mu.Lock()
		s.manifests = append(s.manifests, m)
		if s.codes == nil {
			s.codes = map[string]Manifest{}
		}
		s.codes[code] = m
		s.mu.Unlock()
		http.Redirect(w, r, m.RedirectURL+"?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(m.State), http.StatusFound)
		return true
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/api/v3/app-manifests/") && strings.HasSuffix(p, "/conversions"):
		code := strings.TrimSuffix(strings.TrimPrefix(p, "/api/v3/app-manifests/"), "/conversions")
		s.mu.Lock()
		m, ok := s.codes[code]
		delete(s.codes, code)
		s.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest"}`))
			return true
		}
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{
			"id": AppID, "slug": m.Name + "-app", "name": m.Name, "html_url": "https://github.com/apps/" + m.Name + "-app",
			"webhook_secret": randomHex(20), "pem": string(pemKey), "client_id": "Iv1." + randomHex(8), "client_secret": randomHex(20),
		})
		return true
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
