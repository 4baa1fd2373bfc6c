"""GraphiQL served by the app itself: no CDN at run time, so it works on an intranet.

strawberry's own GraphiQL page loads React, GraphiQL and its explorer plugin from unpkg.com. Ours
loads the same files from `/graphiql/…`, which the project's set-up (`market graphiql install`, run
by the Makefile's install step) fetches once from the npm registry: the exact tarballs pinned below,
checked against their sha512 integrity (from the registry's metadata) before anything is extracted.
Only the files the page needs (and the licences) are kept, in a git-ignored folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = ROOT / "static" / "graphiql"
"""Where the set-up puts the files (git-ignored); served at /graphiql/."""
URL_PATH = "/graphiql"
STAMP = ".installed"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
MAX_TARBALL = 20 * 1024 * 1024


@dataclass(frozen=True)
class Package:
    """One npm package version: its tarball's sha512 integrity and the files kept from it."""

    name: str
    version: str
    integrity: str
    files: tuple[str, ...]
    licence: str | None = "LICENSE"

    @property
    def tarball(self) -> str:
        """The tarball's path under the registry (`@scope/name/-/name-1.0.0.tgz`)."""
        return f"{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"

    @property
    def folder(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def kept(self) -> tuple[str, ...]:
        return (*self.files, self.licence) if self.licence else self.files


# The versions of strawberry-graphql 0.341.2's page. Integrity: `dist.integrity` of
# https://registry.npmjs.org/<name>/<version>. To upgrade, change both, then `make install`.
REACT = Package(
    "react",
    "18.2.0",
    "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
    ("umd/react.production.min.js",),
)
REACT_DOM = Package(
    "react-dom",
    "18.2.0",
    "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
    ("umd/react-dom.production.min.js",),
)
GRAPHIQL = Package(
    "graphiql",
    "3.8.3",
    "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
    ("graphiql.min.js", "graphiql.min.css"),
)
EXPLORER = Package(
    "@graphiql/plugin-explorer",
    "1.0.2",
    "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q==",
    ("dist/index.umd.js", "dist/style.css"),
    licence=None,  # its tarball has none (MIT, as its package.json says)
)
PACKAGES: tuple[Package, ...] = (REACT, REACT_DOM, GRAPHIQL, EXPLORER)


class AssetError(Exception):
    """The files could not be installed; the message says why, in one line."""


def fingerprint(packages: Sequence[Package] = PACKAGES) -> str:
    """What an installed folder holds: its stamp's content."""
    return json.dumps([[p.name, p.version, p.integrity, list(p.kept)] for p in packages], sort_keys=True)


def installed(directory: Path | None = None, packages: Sequence[Package] = PACKAGES) -> bool:
    directory = directory or ASSETS_DIR
    stamp = directory / STAMP
    if not stamp.is_file() or stamp.read_text(encoding="utf-8") != fingerprint(packages):
        return False
    return all((directory / p.folder / name).is_file() for p in packages for name in p.kept)


def _download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/octet-stream"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - http(s) only, below
            data = response.read(MAX_TARBALL + 1)
    except OSError as error:  # URLError, HTTPError, timeouts
        raise AssetError(f"cannot download {url}: {error}") from None
    if len(data) > MAX_TARBALL:
        raise AssetError(f"{url} is larger than {MAX_TARBALL} bytes")
    return data


def check_integrity(package: Package, data: bytes) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    if algorithm != "sha512":
        raise AssetError(f"{package.folder}: only sha512 integrity is accepted, not {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise AssetError(
            f"{package.folder}: tarball sha512 {actual} is not the pinned {expected}; nothing installed"
        )


def _extract(package: Package, data: bytes, into: Path) -> None:
    """Only the named regular files, written to paths of our own making (never the archive's)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for name in package.kept:
                try:
                    member = archive.getmember(f"package/{name}")
                except KeyError:
                    raise AssetError(f"{package.folder}: its tarball has no {name}") from None
                if not member.isfile():
                    raise AssetError(f"{package.folder}: {name} is not a regular file in its tarball")
                target = into / package.folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as source:
                    target.write_bytes(source.read())
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise AssetError(f"{package.folder}: not a readable gzipped tarball: {error}") from None


def install(
    directory: Path | None = None,
    *,
    registry: str | None = None,
    packages: Sequence[Package] = PACKAGES,
    force: bool = False,
) -> bool:
    """Fetch, check and extract the packages into DIRECTORY; False when they were there already.

    All or nothing: the files go to a temporary folder that replaces DIRECTORY only once every
    tarball has passed its integrity check, so a failure leaves the previous install as it was.
    """
    directory = directory or ASSETS_DIR
    registry = (registry or os.environ.get("NPM_REGISTRY") or DEFAULT_REGISTRY).rstrip("/")
    if not registry.startswith(("https://", "http://")):
        raise AssetError(f"NPM_REGISTRY {registry!r} is not an http(s) address")
    if not force and installed(directory, packages):
        (directory / STAMP).touch()  # newer than its prerequisites, for make
        return False
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.{secrets.token_hex(4)}"
    try:
        staging.mkdir()
        for package in packages:
            data = _download(f"{registry}/{package.tarball}")
            check_integrity(package, data)
            _extract(package, data, staging)
        (staging / STAMP).write_text(fingerprint(packages), encoding="utf-8")
        retired = directory.parent / f".{directory.name}.old.{secrets.token_hex(4)}"
        if directory.exists():
            directory.rename(retired)
        staging.rename(directory)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


# ---------------------------------------------------------------- serving


def asset_url(package: Package, name: str) -> str:
    """Relative to /graphql, so that the page also works under a path prefix."""
    return f"{URL_PATH.lstrip('/')}/{package.folder}/{name}"


_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _headers(nonce: str) -> dict[str, str]:
    """Everything from this server: the browser itself refuses any other origin."""
    return {
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
    }


def page() -> HTMLResponse:
    """GraphiQL over the local files, or (503) a page saying how to install them."""
    nonce = secrets.token_urlsafe(16)
    if not installed():
        html = _templates.get_template("graphiql_missing.html").render(directory=str(ASSETS_DIR))
        return HTMLResponse(html, status_code=503, headers=_headers(nonce))
    html = _templates.get_template("graphiql.html").render(
        nonce=nonce,
        scripts=[
            asset_url(REACT, "umd/react.production.min.js"),
            asset_url(REACT_DOM, "umd/react-dom.production.min.js"),
            asset_url(GRAPHIQL, "graphiql.min.js"),
            asset_url(EXPLORER, "dist/index.umd.js"),
        ],
        styles=[asset_url(GRAPHIQL, "graphiql.min.css"), asset_url(EXPLORER, "dist/style.css")],
    )
    return HTMLResponse(html, headers=_headers(nonce))


class _Assets(StaticFiles):
    async def check_config(self) -> None:
        """Not installed yet is no configuration error: each file is a 404 and the page says why."""


def route() -> Mount:
    """The installed files at /graphiql/."""
    return Mount(URL_PATH, app=_Assets(directory=ASSETS_DIR, check_dir=False), name="graphiql")
