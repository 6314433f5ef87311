"""The checkout service on FastAPI: ``uvicorn fastapi_app.main:app``."""
