"""Registers ThreatStream's lookup and health API with Airflow when it loads the plugins folder.

Airflow's plugin loader skips ``plugins/threatstream/`` (``plugins/.airflowignore``); this
module brings the plugin in. An installed wheel registers the same plugin through its
``airflow.plugins`` entry point, and Airflow keeps one of the two (by name).
"""

from threatstream.api.plugin import ThreatStreamApiPlugin

__all__ = ["ThreatStreamApiPlugin"]
