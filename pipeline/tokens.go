package pipeline

import "time"

// PersonalToken is an API token a person made for themselves (for CI
// scripts and the CLI), besides the tokens of ferry.yaml. The store keeps
// the SHA-256 digest of its secret, never the secret.
type PersonalToken struct {
	ID       int64
	User     string
	Name     string
	Created  time.Time
	Expires  time.Time // zero: never
	LastUsed time.Time // zero: never used
	Revoked  time.Time // zero: in use
}

// Valid reports whether the token may be used at now.
func (t PersonalToken) Valid(now time.Time) bool {
	return t.Revoked.IsZero() && (t.Expires.IsZero() || now.Before(t.Expires))
}
