"""Record models: indicators as reported and stored (:mod:`.indicators`), batch metadata (:mod:`.results`)."""
