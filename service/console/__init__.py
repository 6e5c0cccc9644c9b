"""The duty console (SPEC 6.1, `/console`): server-rendered pages for duty officers, geologists and administrators.

People sign in with a phone number and a password (accounts), and act with the same roles, grid scoping and
authorship as the API's tokens: pages call the same domain services as the API's routes. Templates are Jinja2,
forms go through htmx, and every script, stylesheet and icon is vendored under static/ with its licence, so the
console works with no internet. Chinese by default, English selectable (i18n).
"""
