"""The console's pages, a module per page with its own router; `ROUTERS` is the order they mount in."""

from service.console.pages import account, alerts, coverage, devices, intake, patrols, phones, points, shift, weather
from service.console.pages import map as point_map

ROUTERS = [account.router, alerts.router, points.router, devices.router, point_map.router, patrols.router,
           weather.router, coverage.router, intake.router, shift.router, phones.router]
