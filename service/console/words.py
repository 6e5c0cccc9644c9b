"""The domain's words as pages show them: roles, levels, states, types, findings (translated in locale/zh).

Templates translate these from data (`_(alert.level)`), which message extraction cannot see; listing them here
with `N_` puts them in the catalogue. tests/console/test_i18n.py holds this list equal to the domain's own.
"""


def N_(message: str) -> str:
    """Marks a message for extraction without translating it here."""
    return message


ROLES = (N_("admin"), N_("duty_officer"), N_("grid_monitor"), N_("viewer"))
LEVELS = (N_("none"), N_("blue"), N_("yellow"), N_("orange"), N_("red"))
ALERT_STATES = (N_("open"), N_("acknowledged"), N_("verified"), N_("resolved"))
ALERT_TYPES = (N_("deformation"), N_("rainfall"), N_("device"))
VERDICTS = (N_("confirmed"), N_("false_alarm"))
ALERT_EVENT_KINDS = (
    N_("raised"), N_("level_raised"), N_("level_lowered"), N_("acknowledged"), N_("verified"), N_("resolved"),
    N_("escalated"), N_("notified"), N_("evacuated"), N_("verification_requested"), N_("verification_cancelled"),
    N_("sampling_accelerated"), N_("sampling_restored"), N_("patrol_reported"),
)
HAZARD_TYPES = (N_("landslide"), N_("collapse"), N_("debris_flow"), N_("ground_subsidence"), N_("ground_fissure"),
                N_("unstable_slope"))
# A hazard point's page and the devices page.
GRID_ROLES = (N_("monitor"), N_("area_lead"), N_("resident_geologist"), N_("county_admin"))
SCALES = (N_("small"), N_("medium"), N_("large"), N_("giant"))
POINT_STATUSES = (N_("active"), N_("under_treatment"), N_("treated"), N_("relocated"), N_("cancelled"))
PATROL_REGIMES = (N_("routine"), N_("flood_before"), N_("flood_during"), N_("flood_after"), N_("rain_before"),
                  N_("rain_during"), N_("rain_after"), N_("verification"))
JUDGEMENTS = (N_("normal"), N_("suspicious"), N_("dangerous"))
FINDINGS = (N_("new_cracks"), N_("crack_widening"), N_("bulging"), N_("subsidence"), N_("spring_or_seepage_change"),
            N_("rockfall"), N_("tilting_trees_or_poles"), N_("house_damage"), N_("abnormal_sound"),
            N_("nothing_abnormal"))
DEVICE_PROTOCOLS = (N_("universal"), N_("native"), N_("manual"))
SENSOR_KINDS = (N_("crack"), N_("gnss"), N_("tilt"), N_("deep"), N_("accel"), N_("rain"), N_("soil_moisture"),
                N_("soil_temp"), N_("pore_pressure"), N_("other"))
# A task's states are worded apart from an alert's: "open" is an alert's 待签收, a task's 待巡查.
TASK_STATES = {"open": N_("to patrol"), "done": N_("patrolled"), "cancelled": N_("called off")}
