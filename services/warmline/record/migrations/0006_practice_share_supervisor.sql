-- Who a practice share went to (#17): the agent_id of the sharing agent's own
-- supervisor (the agent tokens file's `supervisor`) when it names one, and only
-- that supervisor reads it; NULL, as for every share before, the supervisors of
-- the queues practised. Kept as it was when shared: a later change of supervisor
-- does not pass an agent's shares on to someone they were not shared with.
ALTER TABLE practice_shares ADD COLUMN supervisor_id TEXT;
