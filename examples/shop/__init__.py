"""What the example apps share: the checkout request's validation and the
charge's fallback (all three) and the SQLite order book (Flask and FastAPI;
Django uses its ORM). Orders live in a database, the truth-of-record, never
in Baldur's stores."""
