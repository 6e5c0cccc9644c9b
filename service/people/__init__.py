"""People over HTTP: who monitors, leads, advises and administers, with their phones and roles."""
