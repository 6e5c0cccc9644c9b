"""The public warning pages (SPEC 6.1, `/public`, no sign-in): hazard points near a position or in a place with their
level and disaster-avoidance card, the current warnings, and those warnings as an Atom feed of CAP 1.2 messages.

Reads go through the domain services the API uses (hazard points, alerts, weather) as a viewer would, and the pages
show only what a resident is meant to see: the card's own fields, never the grid's people, devices or alert
internals. Templates and catalogues are the page's own; the language machinery is the console's (service.console.i18n),
not its sign-in. May import everything below service, and service's domain packages.
"""
