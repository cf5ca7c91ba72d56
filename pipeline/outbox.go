package pipeline

import (
	"context"
	"time"
)

// Notice is one thing ferry owes a platform because a deploy changed: a
// card to post or edit, a direct message, a commit status. Subscribers make
// notices; the store keeps them in the outbox, written in the commit of the
// change that owes them, until a dispatcher has delivered them or given up.
type Notice struct {
	ID       int64  // set by the store, in the order notices were owed
	Platform string // "slack", "github", "web", …: the sink that delivers it
	// Dest is where on the platform it goes ("card 42", "status 42",
	// "sticky acme/demo#3"): notices of one destination are delivered in
	// order, one at a time, and the remote message a destination made (a
	// Slack ts, a comment ID) is kept for it.
	Dest string
	Kind string // what it is, as its platform names it ("card", "dm", "status")
	// Latest marks an edit in place: only the newest pending notice of its
	// destination matters, so pending ones are folded into it.
	Latest   bool
	DeployID int64  // the deploy it is about; 0 for none
	State    State  // the deploy's state when it was owed
	Payload  []byte // anything else its sink needs; nil for most

	// Kept by the store.
	Created   time.Time // when it was first owed
	Attempts  int       // deliveries tried and failed
	NotBefore time.Time // not tried again before (backoff, Retry-After)
	LastError string    // why the last attempt failed
	Dead      time.Time // when ferry gave up on it; zero while it is pending
}

// NoticeFilter selects outbox rows; zero fields match everything.
type NoticeFilter struct {
	Platform string
	Dead     bool // only the notices ferry gave up on
	Limit    int  // 0: no limit
}

// Subscriber says what a platform is owed when a deploy changes. Notices is
// a pure function of the deploy: it does no I/O and is called inside the
// store's commit of the change.
type Subscriber interface {
	Notices(d Deploy) []Notice
}

// Announcement is news for a project's chat that is no deploy's card: a
// promotion cancelled, a freeze window opened or closed, a lock expired.
// Key says what it is about, so that it is said once.
type Announcement struct {
	Key     string
	Project string
	Env     string // "" when it is about the whole project
	Text    string
}

// Announcer is a subscriber that says what its platform is owed for an
// announcement; like Notices, a pure function.
type Announcer interface {
	Announce(a Announcement) []Notice
}

// AnnouncementStore records announcements with the notices they owe.
type AnnouncementStore interface {
	// Announce records a and adds ns in one commit, unless a.Key was
	// announced before: then it returns false and changes nothing.
	Announce(ctx context.Context, a Announcement, ns []Notice) (bool, error)
}

// Announce asks each subscriber that is an Announcer.
func (ss Subscribers) Announce(a Announcement) []Notice {
	var ns []Notice
	for _, s := range ss {
		if an, ok := s.(Announcer); ok {
			ns = append(ns, an.Announce(a)...)
		}
	}
	return ns
}

// Subscribers asks each of its subscribers in turn.
type Subscribers []Subscriber

// Notices implements Subscriber.
func (ss Subscribers) Notices(d Deploy) []Notice {
	var ns []Notice
	for _, s := range ss {
		ns = append(ns, s.Notices(d)...)
	}
	return ns
}

// OutboxStore keeps the notices owed for changes that are not transitions
// (a unit's progress, an approval that did not yet queue a deploy).
// Transition writes the notices of a transition itself.
type OutboxStore interface {
	AddNotices(ctx context.Context, ns []Notice) error
}

type originKey struct{}

// WithOrigin returns ctx carrying where a request comes from, in a form its
// platform reads back ("github:acme/demo#3 alice": a pull request, and who
// asked on it). A deploy created on its behalf keeps it as Deploy.Origin,
// so that its platform's subscriber can follow it there.
func WithOrigin(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

// OriginOf returns the origin ctx carries; "" for none.
func OriginOf(ctx context.Context) string {
	o, _ := ctx.Value(originKey{}).(string)
	return o
}
