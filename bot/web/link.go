package web

import (
	"context"
	"net/http"
)

// Linker links chat accounts to ferry users: a chat answers the link
// command with the address of /link/{token}, where the person signs in and
// confirms. bot/slack implements it; the console knows nothing of the
// token's format.
type Linker interface {
	// CheckLink verifies a token and describes the chat account it would
	// link, like "the Slack account U123 of workspace T123". Its errors
	// read as a sentence and wrap pipeline.ErrInvalid (forged or expired)
	// or pipeline.ErrConflict (used already).
	CheckLink(token string) (account string, err error)
	// Link links the account of a valid token to the ferry user, once.
	Link(ctx context.Context, token, user string) error
}

// linkView is the page that confirms a link.
type linkView struct {
	Account string
	Token   string
	CSRF    string
	Done    bool // linked
}

// linkPage asks the signed-in person to confirm that the chat account of
// the token is theirs.
func (s *Server) linkPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	token := r.PathValue("token")
	account, err := s.linker.CheckLink(token)
	if err != nil {
		msg, st := s.explain(r.Context(), err, "platform", "web")
		s.refuse(w, r, st, msg)
		return
	}
	s.renderPage(w, r, http.StatusOK, "link", pageData{Title: "Link your chat account", Viewer: v},
		linkView{Account: account, Token: token, CSRF: v.CSRF})
}

// link links the chat account of the token to the signed-in person.
func (s *Server) link(w http.ResponseWriter, r *http.Request, v *viewer) {
	token := r.PathValue("token")
	account, err := s.linker.CheckLink(token)
	if err == nil {
		err = s.linker.Link(r.Context(), token, v.Name)
	}
	if err != nil {
		msg, st := s.explain(r.Context(), err, "platform", "web", "actor", v.Name)
		s.refuse(w, r, st, msg)
		return
	}
	s.log.InfoContext(r.Context(), "web: chat account linked", "platform", "web", "actor", v.Name, "account", account)
	s.renderPage(w, r, http.StatusOK, "link", pageData{Title: "Chat account linked", Viewer: v},
		linkView{Account: account, Done: true})
}
