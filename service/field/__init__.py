"""The grid monitor's phone app (SPEC 6.1, `/field`): an installable, offline-first web app for the villagers who
watch hazard points.

A phone is bound to a person by a one-time activation code an administrator issues (phones); its session acts as
a grid_monitor caller of that person, so the pages see and report exactly what the API's grid scoping allows.
Pages are server-rendered (Jinja2, the console's language machinery) and cached by a Workbox service worker; a
report is kept in the phone's IndexedDB outbox until the server has taken it, once per client id.
May import everything below service, and service's domain packages.
"""
