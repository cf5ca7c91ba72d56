// Package storage keeps ferry's state: the Store type implements
// pipeline.Store on SQLite (modernc.org/sqlite, pure Go, no cgo: one file
// with a write-ahead log), or on PostgreSQL (pgx) when Open is given a
// postgres:// URL. Its SQL is one, in the dialect both share; pgdriver.go
// rewrites what PostgreSQL spells otherwise.
//
// The schema is created and upgraded by numbered SQL files embedded from
// migrations/ (migrations/postgres/ for PostgreSQL, kept in step);
// Open applies the pending ones, and `ferry migrate` reports them with
// OpenUnmigrated and Migrate.
//
// Conventions of the schema:
//
//   - Times are INTEGER unix nanoseconds, UTC. The zero time.Time is stored as
//     NULL and read back as the zero time; every other time is read back in
//     UTC. A time outside the years 1678 to 2262 cannot be stored and is an
//     error rather than a silent overflow.
//   - The store sets only what pipeline.Store says it sets: a new deploy's
//     ID, State (requested), CreatedAt and UpdatedAt; a deploy's UpdatedAt
//     when it changes (to the transition's At); a transition's At when it is
//     zero; a log entry's Seq. Every other field, zero or not, is stored as
//     given. The clock is Store.Now.
//   - Rows of one deploy (transitions, units, logs, approvals) refer to it by
//     foreign key; writing one for a deploy that does not exist fails with an
//     error wrapping pipeline.ErrNotFound.
//   - The outbox (outbox.go) is written in the commit of the change that owes
//     it: Transition writes the notices of Transition.Notices with the
//     transition. A delivered notice is deleted; what a destination made on
//     its platform (a card's ts, a comment ID) stays in outbox_refs.
package storage
