# Astronomer (astro dev start / astro deploy): Astro Runtime 3.3-2, on the Airflow 3.3 line.
# The runtime image installs requirements.txt and packages.txt and copies the project
# (dags/, plugins/, include/, tests/) into /usr/local/airflow on build (ONBUILD steps).
# docker-compose.yaml builds from deploy/compose/Dockerfile (the official apache/airflow image).
FROM astrocrpublic.azurecr.io/runtime:3.3-2
