"""The checkout service on Flask: ``gunicorn flask_app.app:app``."""
