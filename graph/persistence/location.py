"""What `--db` (or `MEMORIA_DB`) names: a SQLite file, or a Postgres server.

Accepted: a path, a `sqlite:///path` URL, a `postgresql://` (or `postgres://`) URL and a libpq
key/value string (`host=... dbname=...`). Anything else with a scheme (`mysql://`, a mistyped
`postgresq://`) is refused rather than taken for a file name. Postgres connection strings are parsed
by psycopg's own conninfo helpers; their passwords are registered for redaction and never shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from memoria.errors import add_secret

DEFAULT_DB = Path("checkpoints") / "memoria.sqlite"
POSTGRES_SCHEMES = ("postgresql", "postgres")
LIBPQ_KEYS = ("host", "hostaddr", "port", "dbname", "user", "password", "service", "sslmode")
KEY_VALUE = re.compile(rf"^\s*({'|'.join(LIBPQ_KEYS)})\s*=", re.IGNORECASE)
URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class DatabaseLocationError(ValueError):
    """`--db` names something Memoria cannot store threads in."""


@dataclass(frozen=True)
class Location:
    kind: Literal["sqlite", "postgres"]
    target: str
    """The file path (SQLite) or the full connection string (Postgres, with its password)."""
    display: str
    """Safe to print: the path, or the server and database without any password."""


def resolve_db(db: str | os.PathLike[str] | None = None) -> str:
    """`db`, else `MEMORIA_DB`, else `checkpoints/memoria.sqlite` under the current directory."""
    return os.fspath(db or os.environ.get("MEMORIA_DB") or DEFAULT_DB)


def parse_location(raw: str | os.PathLike[str] | None) -> Location:
    text = resolve_db(raw)
    if "\x00" in text:
        raise DatabaseLocationError("the database location contains a NUL byte")
    if not text.strip():
        raise DatabaseLocationError("the database location is empty")
    if match := URL_SCHEME.match(text):
        scheme = match.group(1).lower()
        if scheme in POSTGRES_SCHEMES:
            return _postgres(text)
        if scheme == "sqlite":
            return _sqlite_url(text)
        raise DatabaseLocationError(
            f"unsupported database URL scheme {scheme!r}: use a SQLite file path, "
            "sqlite:///path or postgresql://..."
        )
    if KEY_VALUE.match(text):
        return _postgres(text)
    return Location("sqlite", text, text)


def _sqlite_url(text: str) -> Location:
    parts = urlsplit(text)
    if parts.netloc or parts.query or parts.fragment:
        raise DatabaseLocationError(
            "a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path"
        )
    path = unquote(parts.path)
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise DatabaseLocationError("the SQLite URL names no file")
    return Location("sqlite", path, path)


def _postgres(text: str) -> Location:
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise DatabaseLocationError(
            "Postgres needs the postgres extra: pip install 'langgraph-memoria[postgres]'"
        ) from None
    try:
        params = conninfo_to_dict(text)
    except Exception as exc:
        # psycopg's message may quote the string, password included: say only what is wrong.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        password = _raw_password(text)
        if password:
            reason = reason.replace(password, "***")
        raise DatabaseLocationError(f"not a valid Postgres connection string: {reason}") from None
    add_secret(str(params.get("password") or ""))
    if URL_SCHEME.match(text) and _misread_url(params):
        # An unencoded @ or / in the password moves part of it into the host or database name,
        # which would then be shown: refuse without quoting any of it.
        raise DatabaseLocationError(
            "cannot read this postgresql:// URL: a user name or password holding @, / or : "
            "must be URL-encoded (%40, %2F, %3A)"
        )
    user = params.get("user")
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    dbname = params.get("dbname") or user or ""
    display = f"postgresql://{f'{user}@' if user else ''}{host}{port}/{dbname}"
    return Location("postgres", text, display)


def _misread_url(params: Mapping[str, object]) -> bool:
    host, dbname = str(params.get("host") or ""), str(params.get("dbname") or "")
    ports = str(params.get("port") or "").split(",")
    return "@" in host or "@" in dbname or any(p and not p.strip().isdigit() for p in ports)


def _raw_password(text: str) -> str:
    if match := re.search(r"password\s*=\s*'?([^\s&']+)", text):
        return match.group(1)
    parts = urlsplit(text) if URL_SCHEME.match(text) else None
    try:
        return (parts.password or "") if parts else ""
    except ValueError:
        return ""
