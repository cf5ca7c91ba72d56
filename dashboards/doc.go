// Package dashboards computes what teams see about their delivery — the
// metrics, the four DORA metrics, leaderboards and the weekly digest — from
// the deploy records in storage, for any period and scope, and schedules
// the digest.
//
// # Periods and scopes
//
// A Period is [From, To) with a time zone for its days. A deploy belongs to
// the period in which it started (StartedAt): deploys that never started
// (denied, rejected, expired, cancelled while waiting) are not deploys. A
// Scope is every deploy (all), a team's (deploys requested by its members,
// as configured now), a project's, an environment's (that environment name
// in every project) or one person's. Every metric comes with the same
// metric over the previous period of the same length, for trends.
//
// # Metrics
//
// "Deploy" means a deploy of kind deploy (promotions included); a rollback
// deploy (kind rollback) is counted only as a rollback.
//
//   - Deploys: deploys that started in the period.
//   - Succeeded, failed, rolled back, cancelled, in progress: how those
//     deploys stand at the time of asking. Rolled back includes rolling
//     back now; in progress is running, paused or interrupted — a deploy
//     still running at the end of the period is in progress, and has no
//     verdict yet.
//   - Success rate: succeeded ÷ (succeeded + failed + rolled back).
//     Cancelled and in-progress deploys have no verdict and are left out.
//     No verdicts: no rate ("–"), not 0%.
//   - Rollbacks: rollback deploys that started in the period, plus deploys
//     of the period rolled back in flight.
//   - Caught by canary: deploys that failed or were rolled back while on
//     the first batch of a plan of several, before the other units got it.
//   - Duration, median and p90: FinishedAt − StartedAt of the succeeded
//     deploys. The median is the middle value (the mean of the two middle
//     values for an even count); p90 is the nearest rank, the value at rank
//     ⌈0.9·n⌉ in ascending order.
//
// # DORA metrics
//
// They count production environments only: Settings.Production, by default
// every environment whose name starts with "prod", or is "prd" or "live".
//
//   - Deployment frequency: successful production deploys ÷ days in the
//     period (calendar days in its time zone; 7 for a week, across a change
//     of daylight saving time). Shown per week when below one a day.
//   - Lead time for changes: for each successful production deploy,
//     FinishedAt − the committer time of its commit, read from the
//     repository when the deploy was requested (a promotion keeps the
//     commit's time). Median and p90; deploys without a commit time are
//     counted apart.
//   - Change failure rate: failed changes ÷ production deploys with a
//     verdict. A failed change failed, was rolled back, or succeeded and was
//     followed by a rollback of its environment requested within
//     Settings.FailureWindow (24 hours by default) of its success, before any
//     other deploy of the environment succeeded. The rollback may come in the
//     next period: the change counts in the period it started in.
//   - Time to restore: for each production failure that began in the
//     period — a production deploy (or rollback) failing or starting to roll
//     back (its first such transition), or a rollback being requested for a
//     failed change — the time until the environment was good again: the
//     failed deploy's own rollback finished, or the next deploy of the
//     environment succeeded, whichever came first. Median and p90; failures
//     not restored by the time of asking are counted apart. This is DORA's
//     "failed deployment recovery time".
//
// # Leaderboards
//
// By team, project and person, over a period: most deploys, best success
// rate, fastest lead time (median) and most rollbacks caught by canary. A
// rate or a median ranks a group only with at least Settings.MinDeploys
// deploys behind it (3 by default). Equal scores share a rank, and the
// next rank skips (1, 2, 2, 4); equals are listed by name; a board shows
// Settings.Top places (5), and every entry that shares the last. The person
// boards list only people ferry knows (not system actors), and never the
// people in Settings.OptOut, whose deploys still count for their teams and
// projects.
//
// # Digests
//
// A Digest is a scope's report, its leaderboards and its days (deploys per
// day by outcome, and the day's median lead time) for a chart. The Scheduler
// posts digests on a cron schedule with a time zone, once per scheduled
// time even across restarts, and late when ferry was down at that time.
package dashboards
