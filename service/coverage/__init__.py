"""The coverage report of SPEC 5: the gaps a county bureau plans its season around, as JSON or CSV."""
