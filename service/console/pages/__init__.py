"""The console's pages, a module per page with its own router; `ROUTERS` is the order they mount in."""

from service.console.pages import account, alerts, coverage, intake, patrols, shift, weather

ROUTERS = [account.router, alerts.router, patrols.router, weather.router, coverage.router, intake.router,
           shift.router]
