"""The floor for the API load test: a bare FastAPI app with one database round trip.

`GET /users/{id}` reads one row by primary key through SQLAlchemy and psycopg, with the
service's own engine settings (`app.db.build_engine`: same pool size, pre-ping, driver), in a
sync route run in the thread pool like the service's routes. No authentication, no audit, no
validation beyond the path: what is left is uvicorn, FastAPI routing, JSON, and one query.

    DATABASE_URL=postgresql+psycopg://… uvicorn bench.reference_app:create_app --factory --workers 4
"""

from __future__ import annotations

import os
import uuid

from fastapi import FastAPI, HTTPException
from sqlalchemy import text

from app.db import build_engine

ONE_ROW = text("SELECT id, email, full_name, role FROM users WHERE id = :id")


def create_app() -> FastAPI:
    engine = build_engine(
        os.environ["DATABASE_URL"], pool_size=int(os.environ.get("DB_POOL_SIZE", "10"))
    )
    app = FastAPI(title="Reference: one SELECT")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/users/{user_id}")
    def one_user(user_id: uuid.UUID) -> dict[str, str]:
        with engine.connect() as connection:
            row = connection.execute(ONE_ROW, {"id": user_id}).one_or_none()
        if row is None:
            raise HTTPException(404, "no such user")
        return {"id": str(row.id), "email": row.email, "full_name": row.full_name, "role": row.role}

    return app
