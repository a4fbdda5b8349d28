-- The weekly review reads every customer's follow-ups of one week.
CREATE INDEX follow_ups_at ON follow_ups (at);
