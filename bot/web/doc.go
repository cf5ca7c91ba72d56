// Package web is ferry's built-in chat, the web console, and its HTTP API.
//
// The console is server-rendered HTML (html/template, assets embedded with
// embed.FS, no build step). A signed-in person types commands into one box;
// they run through bot.Bot.Handle exactly as a chat message would, so the
// grammar and the policy are the same everywhere. Card buttons post the
// text command of their bot.Action to the same path. Pages work without
// JavaScript (forms post, the server redirects and shows the reply once);
// a little script sends them with fetch instead and keeps the cards live
// from a server-sent event stream.
//
// Routes:
//
//	GET  /                       the console: command box and live deploy cards
//	GET  /login, POST /login     sign in with name and password (bcrypt)
//	POST /logout
//	POST /console/command        form field text: a command
//	POST /console/action         form field command: a card button's command
//	GET  /events                 text/event-stream of "card" events
//	GET  /board                  project × environment matrix
//	GET  /deploys/{id}           a deploy: card, transitions, approvals, units, log
//	GET  /history?project=&env=  past deploys
//	GET  /audit?actor=&project=&env=&action=&since=&until=&before=&limit=
//	                             the audit log, a page at a time
//	GET  /outbox?platform=&dead= what ferry owes the platforms (admins; Config.Outbox)
//	POST /outbox/{id}/retry      owe a dead notice again, and audit it
//	GET  /static/...             CSS and script
//	GET  /link/{token}           confirm linking a chat account (Config.Linker)
//	POST /link/{token}           link it to the signed-in person
//	POST /api/v1/commands        {"text": "..."} → CommandResponse
//	GET  /api/v1/deploys/{id}    → APIDetails
//	GET  /api/v1/deploys         ?project=&env=&state=&limit= → APIDeployList
//	GET  /api/v1/board           → APIBoard
//	GET  /api/v1/audit           the audit page's parameters → APIAuditLog
//	GET  /api/v1/outbox          ?platform=&dead=&limit= → APIOutbox (admins)
//	POST /api/v1/outbox/{id}/retry → APIOutboxRetry (admins)
//	POST /api/v1/reload          → APIReload: ferry.yaml read again (admins)
//
// Sessions are signed cookies: HMAC-SHA256 over the name, the expiry, a
// random nonce and a digest of the person's password hash, verified in
// constant time, for 12 hours. Signing out records the nonce in the store
// (Config.Sessions) until the session expires, and a password changed in
// ferry.yaml ends the sessions signed in before, after a restart too.
// Sign-ins are throttled by client address and, with a growing delay that
// locks nobody out, by name; a browser that signed in as a name before
// (its device cookie) is not held by either (throttle.go). Every
// form that changes something carries a CSRF token derived from the session
// by HMAC (fetch sends it as X-CSRF-Token), and browsers' cross-origin
// requests are refused besides (http.CrossOriginProtection). The API takes
// bearer tokens instead of cookies. Request bodies are capped at 64 KiB.
//
// The Server is the outbox's web sink (Subscriber, Deliver): each change of
// a deploy owes the console a notice, which the dispatcher hands over; its
// card is rendered to HTML once, only while somebody watches, and offered
// to every event stream; a stream that cannot keep up is dropped, never
// waited for. A session opens at most 8 streams (429 beyond) and the
// server serves at most 256 (503 with Retry-After beyond).
package web
