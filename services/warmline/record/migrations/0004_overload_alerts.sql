-- Overload alerts for supervisors (#17 item 1), as the notification service
-- raised them. No agent's id, even where the tenant names agents to their
-- supervisors: an alert of one agent keeps only that it was about an agent
-- (scope), and the suggestion text, which may name them, is not kept.
CREATE TABLE overload_alerts (
    tenant_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    scope TEXT NOT NULL,
    measure TEXT NOT NULL,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    window_s INTEGER NOT NULL,
    raised_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, alert_id)
);
CREATE INDEX overload_alerts_age ON overload_alerts (tenant_id, raised_at);
