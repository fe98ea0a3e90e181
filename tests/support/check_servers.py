"""Smoke check of tests.support.servers: `python -m tests.support.check_servers`.

Starts both servers in a temporary directory, exercises what the suite relies on (a database
over SQLAlchemy + psycopg that survives a server restart, a multipart S3 round trip that
survives an S3 restart) and prints how long each step took.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, text

from tests.support.servers import PostgresServer, S3Server

PART_SIZE = 8 * 1024 * 1024
OBJECT_SIZE = 20 * 1024 * 1024
BUCKET = "check-bucket"
KEY = "uploads/big.bin"


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"{label:<40} {time.perf_counter() - started:7.3f} s")


def check_postgres(pg: PostgresServer) -> None:
    with timed("postgres create_database"):
        pg.create_database("check_db")
    engine = create_engine(pg.url("check_db"), pool_pre_ping=True)
    try:
        with timed("postgres connect + select 1"), engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
        with timed("postgres restart"):
            pg.restart()
        with timed("postgres reconnect + select 1"), engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()
    with timed("postgres drop_database"):
        pg.drop_database("check_db")


def multipart_upload(client: BaseClient, key: str, data: bytes) -> None:
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, offset in enumerate(range(0, len(data), PART_SIZE), start=1):
        response = client.upload_part(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data[offset : offset + PART_SIZE],
        )
        parts.append({"PartNumber": number, "ETag": response["ETag"]})
    client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )


def streamed_sha256(client: BaseClient, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in client.get_object(Bucket=BUCKET, Key=key)["Body"].iter_chunks(1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def check_s3(s3: S3Server) -> None:
    data = os.urandom(OBJECT_SIZE)
    expected = hashlib.sha256(data).hexdigest()
    client = s3.client()
    s3.create_bucket(BUCKET)
    with timed("s3 multipart upload 20 MiB (8 MiB parts)"):
        multipart_upload(client, KEY, data)
    with timed("s3 streamed get_object 20 MiB"):
        assert streamed_sha256(client, KEY) == expected

    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key="uploads/aborted.bin")["UploadId"]
    client.upload_part(
        Bucket=BUCKET,
        Key="uploads/aborted.bin",
        UploadId=upload_id,
        PartNumber=1,
        Body=data[:PART_SIZE],
    )
    client.abort_multipart_upload(Bucket=BUCKET, Key="uploads/aborted.bin", UploadId=upload_id)
    listed = [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert listed == [KEY], listed

    with timed("s3 restart"):
        s3.restart()
    with timed("s3 get_object after restart"):
        assert streamed_sha256(s3.client(), KEY) == expected
    try:
        s3.client().head_object(Bucket=BUCKET, Key="uploads/aborted.bin")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "404"
    else:
        raise AssertionError("aborted upload left an object behind")


def start_timed(label: str, start: Callable[[], None]) -> None:
    with timed(label):
        start()


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="grants-servers-"))
    pg = PostgresServer(base / "pg")
    s3 = S3Server(base / "s3")
    try:
        start_timed("postgres first start (initdb + start)", pg.start)
        start_timed("s3 start", s3.start)
        check_postgres(pg)
        check_s3(s3)
        with timed("stop both"):
            pg.stop()
            s3.stop()
        assert not pg.is_running()
        assert not s3.is_running()
        start_timed("postgres start (existing cluster)", pg.start)
        pg.stop()
    finally:
        pg.stop()
        s3.stop()
        shutil.rmtree(base)
    print("servers OK")


if __name__ == "__main__":
    main()
