"""The REST API (FastAPI): one router per domain, one error handler, bearer-key auth."""
