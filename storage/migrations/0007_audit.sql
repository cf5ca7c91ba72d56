-- 0007: reading the audit log. Pages come newest (highest id) first, most
-- often of one project (a filter, or the projects a person may read) or of
-- one person; these indexes walk those entries in id order instead of the
-- whole table. A time range without either follows the id, which grows with
-- time, through the primary key.
CREATE INDEX audit_project ON audit (project, id);
CREATE INDEX audit_actor ON audit (actor, id);
