-- Indexes for the console's operational pages (issue 15): a weather warning's tasks, and the shift log's
-- summary of what happened since the last handover note.

-- The tasks a weather warning created: its console page lists them, and every row of the warnings' listing
-- counts them (until now by reading every patrol task).
CREATE INDEX patrol_task_weather_warning_idx ON patrol_task (weather_warning_id) WHERE weather_warning_id IS NOT NULL;

-- The shift log: the alerts raised, escalated and resolved since the last note, whatever their alert.
CREATE INDEX alert_event_at_idx ON alert_event (at);

-- The shift log: the patrol reports filed (received) since the last note; a report made offline arrives late.
CREATE INDEX patrol_report_received_idx ON patrol_report (received_at DESC);
