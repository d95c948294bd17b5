-- The record's first schema. No column holds message text, agent comments,
-- suggested openings or metadata: only pseudonymous ids, labels and numbers.
-- Times are epoch seconds (UTC). Every table is keyed by the id its topic
-- carries, so a replayed record is ignored.

-- One row per event of the scored topic: signals of customer turns, the shape of
-- the conversation (role, kind) for the others, and the score of CSAT events.
CREATE TABLE turns (
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    customer_tier TEXT NOT NULL,
    language TEXT NOT NULL,
    occurred_at REAL NOT NULL,
    ingested_at REAL,
    scored_at REAL,
    score_status TEXT NOT NULL,
    model_version TEXT NOT NULL,
    taxonomy_version TEXT NOT NULL,
    frustration REAL,
    anger REAL,
    confusion REAL,
    distress REAL,
    gratitude REAL,
    negativity REAL,
    neutral REAL,
    sensitive REAL,
    vulnerability REAL,
    churn_threat REAL,
    regulator_complaint REAL,
    predicted_labels TEXT NOT NULL,
    context_turns INTEGER NOT NULL,
    repeat_similarity REAL NOT NULL,
    csat_score INTEGER,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX turns_conversation ON turns (tenant_id, conversation_id, occurred_at);
CREATE INDEX turns_age ON turns (tenant_id, occurred_at);

-- One row per decision of the escalations topic (shadow decisions too).
CREATE TABLE decisions (
    tenant_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    action TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority TEXT NOT NULL,
    dominant_emotion TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    model_version TEXT NOT NULL,
    trigger_event_id TEXT NOT NULL,
    abusive INTEGER NOT NULL,
    shadow INTEGER NOT NULL,
    channel TEXT NOT NULL,
    customer_tier TEXT NOT NULL,
    history_escalations INTEGER NOT NULL,
    history_false_alarms INTEGER NOT NULL,
    history_window_days INTEGER NOT NULL,
    occurred_at REAL,
    ingested_at REAL,
    scored_at REAL,
    decided_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, decision_id)
);
CREATE INDEX decisions_conversation ON decisions (tenant_id, conversation_id, decided_at);
CREATE INDEX decisions_by_conversation ON decisions (conversation_id);
CREATE INDEX decisions_age ON decisions (tenant_id, decided_at);

-- The reasons of a decision, in the decision's order; quoted customer words are
-- taken out of the explanations before they are stored.
CREATE TABLE decision_reasons (
    tenant_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    code TEXT NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (tenant_id, decision_id, position),
    FOREIGN KEY (tenant_id, decision_id) REFERENCES decisions (tenant_id, decision_id)
        ON DELETE CASCADE
);

-- The signal trajectory a decision was taken on (per customer turn).
CREATE TABLE decision_trajectory (
    tenant_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    occurred_at REAL,
    dominant_emotion TEXT NOT NULL,
    frustration REAL NOT NULL,
    anger REAL NOT NULL,
    confusion REAL NOT NULL,
    distress REAL NOT NULL,
    gratitude REAL NOT NULL,
    negativity REAL NOT NULL,
    neutral REAL NOT NULL,
    PRIMARY KEY (tenant_id, decision_id, position),
    FOREIGN KEY (tenant_id, decision_id) REFERENCES decisions (tenant_id, decision_id)
        ON DELETE CASCADE
);

-- Agents' verdicts (feedback topic); whether a comment was written, never the comment.
CREATE TABLE verdicts (
    tenant_id TEXT NOT NULL,
    feedback_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    has_comment INTEGER NOT NULL,
    submitted_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, feedback_id)
);
CREATE INDEX verdicts_decision ON verdicts (tenant_id, decision_id);
CREATE INDEX verdicts_age ON verdicts (tenant_id, submitted_at);

-- Claims of escalations (agent-actions topic); acknowledgements are not kept.
CREATE TABLE claims (
    tenant_id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    escalation_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    high_intensity INTEGER NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, action_id)
);
CREATE INDEX claims_decision ON claims (tenant_id, decision_id);
CREATE INDEX claims_age ON claims (tenant_id, claimed_at);
