-- Larger transactions run by e2e_programs through sqlite3 with and without the shim: 100k
-- rows inserted in one transaction, an index, updates and deletes, a rolled-back copy,
-- aggregates, VACUUM and an integrity check.
PRAGMA cache_size = -20000;
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB, n INTEGER);
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000)
INSERT INTO t(k, v, n) SELECT printf('key%06d', (i * 7919) % 100000), zeroblob(i % 500), i % 97
FROM c;
CREATE INDEX t_k ON t(k);
UPDATE t SET n = n * 2 WHERE id % 5 = 0;
DELETE FROM t WHERE n % 7 = 3;
COMMIT;
SELECT count(*), sum(n), sum(length(v)) FROM t;
SELECT n, count(*), max(k) FROM t GROUP BY n ORDER BY n LIMIT 5;
SELECT k FROM t ORDER BY k DESC LIMIT 3;
BEGIN;
INSERT INTO t(k, v, n) SELECT k || '-copy', v, n + 1 FROM t WHERE id % 3 = 0;
SELECT count(*) FROM t;
ROLLBACK;
SELECT count(*) FROM t;
SELECT group_concat(k, ',') FROM (SELECT k FROM t WHERE k LIKE 'key0001%' ORDER BY k);
VACUUM;
PRAGMA integrity_check;
