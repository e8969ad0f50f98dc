"""The lookup and health API: a FastAPI app mounted in Airflow's api-server by a plugin.

Like ``cli.py`` it sits on top of the layers. :mod:`threatstream.api.plugin` is the Airflow
plugin (light to import: the app is built only when the api-server asks for it);
:mod:`threatstream.api.app` the FastAPI app and its authorisation; :mod:`threatstream.api.lookup`
the lookups (the CLI's canonicalisation and point reads); :mod:`threatstream.api.health` the
feeds' runs read from Airflow's metadata database. See ``docs/api.md``.
"""
