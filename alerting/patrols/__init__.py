"""The patrol domain (SPEC 5 and 6): patrol tasks and the regimes that give them, and patrol reports.

`tasks` creates the routine, flood-season and rain tasks, escalates the overdue ones up the point's grid
(the engine runs `run_regimes`; a weather warning calls `create_rain_tasks`) and lists them; `reports` files
a report (its task, its measurements as readings, a dangerous one's alert) and reads reports back. Both read
`sql/patrols.sql`. Part of the engine layer, so that the engine can run it: it imports `alerting` (the
lifecycle and the grid escalation it shares with alerts), `sensors`, `sql`, the settings and the readings
notice, never the HTTP layer, which calls into it from `service.patrols` and `service.weather`.
"""
