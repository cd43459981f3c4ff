"""WSGI entry for Gunicorn: `gunicorn assessment_twin.wsgi:app` (see manage.sh)."""

from assessment_core.settings import Settings
from assessment_twin.app import create_app

app = create_app(Settings())
