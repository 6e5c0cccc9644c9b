"""A device's health as both protocols report it: one shape for a universal status frame and a native
status message."""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class DeviceStatus:
    """A device's health from a status frame; any field the device left out is None."""

    device_id: str
    at: datetime  # the frame's time key if it had one, else the time of receipt
    supply_v: float | None = None
    solar_v: float | None = None
    battery_pct: float | None = None
    temp_c: float | None = None
    humidity_pct: float | None = None
    lon: float | None = None
    lat: float | None = None
    signal_4g: float | None = None
    signal_nb: float | None = None
    signal_bd: float | None = None
    signal: float | None = None  # a native gateway's one signal figure
    sw_version: str | None = None
    # sensorCode -> 0 ok, -1 power error, -2 data error, -3 no data
    sensor_state: dict[str, int] = field(default_factory=dict)
    raw: dict = field(default_factory=dict)  # the status object as sent

    @property
    def signal_strength(self) -> float | None:
        """The one signal figure kept on the device: the native one, else 4G, NB-IoT, BeiDou."""
        return next((s for s in (self.signal, self.signal_4g, self.signal_nb, self.signal_bd) if s is not None), None)
