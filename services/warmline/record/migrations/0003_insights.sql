-- Leaders' insights (#16 item 3): the time to claim an escalation looks up the
-- claims of it or of its later updates, which carry the escalation's id.
CREATE INDEX claims_escalation ON claims (tenant_id, escalation_id);
