"""The console's pages, a module per page with its own router; `ROUTERS` is the order they mount in."""

from service.console.pages import account, alerts, devices, points

ROUTERS = [account.router, alerts.router, points.router, devices.router]
