// Package pipeline is ferry's core: routing rules, policy, the deploy state
// machine and the engine that performs its effects.
//
// It imports no SDK: storage, targets and chats plug in through the small
// interfaces declared here (Store, Target, Subscriber, Resolver).
//
// # The deploy state machine
//
//	requested ──► awaiting_approval ──► queued ──► running ──► succeeded
//	    │               │    │                      │  ▲
//	    ▼               ▼    ▼                      ▼  │
//	  denied        rejected expired              paused (brake, manual gate, pause)
//	                                                │
//	                                  running ──► failed ──► rolling_back ──► rolled_back
//	  any non-final state ──► cancelled (by a user, or superseded by a newer queued deploy)
//	  running ──► interrupted (ferry restarted and the target cannot resume) ──► running | rolling_back
//
// Invariants:
//
//   - Next(state, event) is pure; the Engine persists every transition with a
//     compare-and-swap on the previous state (Store.Transition), so two
//     concurrent Approve clicks or two engines never start one deploy twice.
//   - At most one deploy per (project, environment) holds the environment
//     (running, paused, rolling_back, interrupted); newer requests queue, and
//     a queued deploy is cancelled when a newer one is queued for the same
//     environment.
//   - A running deploy survives a restart: units finished are journaled in
//     the store and skipped on resume; a target that cannot resume safely
//     leaves the deploy interrupted, with Resume and Rollback offered.
//   - A BatchTarget (Kubernetes) moves a batch in one call instead of a
//     call per unit; its units are journaled, braked, baked, resumed and
//     rolled back exactly as other targets' units are.
//   - Scale, restart and config changes (Engine.Operate) pass the same
//     policy as deploys, never run while a deploy holds the environment,
//     and are audited.
//   - Every command that changes something writes an audit entry, forced
//     or not, and so does every command policy refuses (forbidden or
//     locked: "deploy denied", "approve denied", "lock denied", …, the
//     reason in its detail). People read the log through Engine.AuditLog,
//     which shows each of them what AuditScopeOf allows.
//   - Approvals, locks, bake waits and batches are rows, not goroutines
//     waiting on channels; time comes from an injected clock.
//   - A request may carry its environment narrowed (Request.Override, from
//     a repository's .ferry.yaml); Narrows refuses one that would widen the
//     configured environment, a ref must pass both sets of rules, and the
//     deploy keeps the narrowed strategy (Deploy.Strategy) across restarts.
//   - A promotion (Project.Promotions) deploys exactly what succeeded
//     upstream, requested by the system actor Promoter through the next
//     environment's own policy; the sweep moves promotions on, and each
//     rule promotes a version once (PromotionStore, and the deploy's
//     request key).
//   - While a freeze window (Freeze) covers an environment, deploys and
//     promotions into it are refused (*Frozen, an ErrForbidden), a queued
//     deploy waits, and only an admin's force passes, audited with the
//     window; rollbacks pass unless the freeze says NoRollbacks.
//   - Reconfigure swaps the projects and freezes whole; each command and
//     view reads one configuration, and a deploy runs to its end (through
//     manual gates and a rollback) with the one it started with on this
//     replica, even when its project is removed.
//   - News that is no deploy's card (a window opening or closing, a lock
//     expiring, a promotion cancelled) is an Announcement, said once per
//     key to the subscribers that are Announcers.
package pipeline
