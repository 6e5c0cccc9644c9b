-- A patrol report's client id (SPEC 6): a UUID the phone makes for the report, so that a report the phone sends
-- again (poor signal: it did not hear the answer) is stored once. Nullable: reports filed before, and clients that
-- send none, have no id.
-- Unique over all reports, not per reporter: a UUID made on a phone is unique by construction, so the same id from
-- two people is not two reports that happen to share it but a client bug or someone resending another person's
-- report; the API refuses it (409) rather than keeping both. Per reporter would also need reporter_id NULL (a
-- console token without a person) to count as one reporter, which a plain unique index does not do.
ALTER TABLE patrol_report ADD COLUMN client_id uuid;
CREATE UNIQUE INDEX patrol_report_client_id_key ON patrol_report (client_id) WHERE client_id IS NOT NULL;

-- Whether the report closed its task, kept so that a resent report is answered as the first was
-- (task_marked_done). NULL for reports filed before this column: it was not recorded.
ALTER TABLE patrol_report ADD COLUMN task_marked_done boolean;
