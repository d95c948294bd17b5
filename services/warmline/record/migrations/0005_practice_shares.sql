-- Empathy practice an agent chose to share with the supervisors of the queues
-- practised (#17 item 3): one round (their opening, its checks, the scenario it
-- was for) or a summary of rounds (how many passed each check; no words). The
-- review itself is never kept; a share is, until the agent takes it back or it
-- ages out like the scenarios (WARMLINE_RECORD__PRACTICE_RETENTION_DAYS).
-- queues: comma-separated; shown: the JSON a supervisor sees.
CREATE TABLE practice_shares (
    tenant_id TEXT NOT NULL,
    share_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    queues TEXT NOT NULL,
    shown TEXT NOT NULL,
    shared_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, share_id)
);
CREATE INDEX practice_shares_age ON practice_shares (tenant_id, shared_at);
