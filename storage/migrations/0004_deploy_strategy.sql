-- 0004: the rollout strategy of a deploy whose request narrowed its
-- environment's (a repository's .ferry.yaml), so that it runs, and resumes
-- after a restart, as it was requested. '' for a deploy that runs the
-- environment's strategy; otherwise JSON, written by storage/strategy.go.
ALTER TABLE deploys ADD COLUMN strategy TEXT NOT NULL DEFAULT '';
