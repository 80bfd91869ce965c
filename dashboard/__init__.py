"""mpi-render dashboard: Tornado ingest, SQLite storage, WebSocket fan-out and the live page."""
