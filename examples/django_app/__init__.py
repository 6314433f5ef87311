"""The checkout service on Django: settings, URLs, the ``Order`` model and
the views in one small project (``DJANGO_SETTINGS_MODULE=django_app.settings``)."""
