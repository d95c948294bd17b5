-- Empathy practice (#17 item 3). The only tables of the record that hold text,
-- and only for tenants that opted in (WARMLINE_RECORD__PRACTICE_TENANTS).

-- Redacted turns (customer and bot) of an opted-in tenant's conversations, and
-- the suggested openings of their escalations, waiting for the conversation to
-- qualify (escalated, claimed, useful, good CSAT). Deleted once it becomes a
-- scenario, or after WARMLINE_RECORD__PRACTICE_PENDING_HOURS.
CREATE TABLE practice_turns (
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    role TEXT NOT NULL,
    occurred_at REAL NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX practice_turns_conversation ON practice_turns (tenant_id, conversation_id, occurred_at);

CREATE TABLE practice_openings (
    tenant_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    opening_line TEXT NOT NULL,
    decided_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, decision_id)
);
CREATE INDEX practice_openings_conversation ON practice_openings (tenant_id, conversation_id);

-- Anonymised scenarios: the turns up to the escalation (JSON [{"role", "text"}]),
-- never the conversation's or the customer's id. Aged by the escalation's time.
CREATE TABLE practice_scenarios (
    tenant_id TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    dominant_emotion TEXT NOT NULL,
    reasons TEXT NOT NULL,
    turns TEXT NOT NULL,
    example_opening TEXT NOT NULL,
    escalated_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id)
);
CREATE INDEX practice_scenarios_age ON practice_scenarios (tenant_id, escalated_at);
