"""What the Flask and FastAPI examples share: the order book, kept in
SQLite (the truth-of-record lives in a database, never in Baldur's stores),
and the checkout request's validation. The Django example uses its ORM."""
