"""Framework adapters: each wires Baldur into a framework's startup path
(``baldur.init()``), serves the operations endpoints under
``/api/baldur/``, refuses new requests with 503 + ``Retry-After`` while the
process drains, and counts requests per route for the metrics.

- Django: ``"baldur.adapters.django"`` in ``INSTALLED_APPS``
- FastAPI: :mod:`baldur.adapters.fastapi` (lifespan, router, middleware)
- Flask: :class:`baldur.adapters.flask.Baldur`
- Celery: :mod:`baldur.adapters.celery`

Each needs its framework, installed through the matching extra
(``pip install "baldur-framework[django]"``); importing an adapter without
it raises ``ModuleNotFoundError`` saying so.
"""
