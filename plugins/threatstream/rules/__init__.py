"""Rules applied to canonical indicators: MISP warninglists (:mod:`.warninglists`)."""
