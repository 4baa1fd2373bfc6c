"""Checks of the export with OCP's own tools, all offline: JSON Schema (Draft 4) against the patched
schema, lib-cove-ocds (the Data Review Tool's library) and ocdskit's compiler. Every schema and
extension is read from disclosure/ocds/schema/, so a fresh clone needs no ../shared and no network."""

from __future__ import annotations

import copy
import io
import json
import socket
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import jsonref
import libcoveocds.api
import ocdskit.combine
from jsonschema import Draft4Validator
from libcoveocds.config import LibCoveOCDSConfig
from ocdsextensionregistry.exceptions import DoesNotExist
from ocdsextensionregistry.extension_version import ExtensionVersion
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from disclosure.ocds import schema

SCHEMA_DIR = schema.SCHEMA_DIR
SCHEMA_FILES = (
    "release-schema.json",
    "release-package-schema.json",
    "record-package-schema.json",
    "versioned-release-validation-schema.json",
)


# ---------------------------------------------------------------- JSON Schema


def _registry() -> Registry:
    """The standard's four URLs served from the local files, the release schema patched; nothing else."""
    documents = {name: schema.core_schema(name) for name in SCHEMA_FILES}
    documents["release-schema.json"] = schema.patched_release_schema()

    def refuse(uri: str):
        raise LookupError(f"offline: no schema at {uri}")

    return Registry(retrieve=refuse).with_resources(
        (schema.STANDARD_URL + name, Resource.from_contents(document, default_specification=DRAFT4))
        for name, document in documents.items()
    )


def schema_errors(package: dict) -> list[str]:
    """Every JSON Schema error of a release or record package, as `/pointer: message`."""
    kind = "record-package-schema.json" if "records" in package else "release-package-schema.json"
    validator = Draft4Validator(
        schema.core_schema(kind), registry=_registry(), format_checker=Draft4Validator.FORMAT_CHECKER
    )
    return [
        "/" + "/".join(str(p) for p in error.absolute_path) + f": {error.message}"
        for error in validator.iter_errors(package)
    ]


# ---------------------------------------------------------------- lib-cove-ocds


def _standard_zip() -> bytes:
    """The standard as GitHub's archive of it is laid out, which lib-cove-ocds reads."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"standard-{schema.STANDARD_TAG}/", "")
        for path in sorted(SCHEMA_DIR.rglob("*")):
            relative = path.relative_to(SCHEMA_DIR).as_posix()
            if path.is_file() and (relative in SCHEMA_FILES or relative.startswith("codelists/")):
                archive.write(path, f"standard-{schema.STANDARD_TAG}/schema/{relative}")
    return buffer.getvalue()


def _local_extension_file(self, basename, default=None):
    url = self.get_url(basename)
    for name, base in schema.extension_base_urls().items():
        if url.startswith(base):
            path = schema.EXTENSION_DIR / name / basename
            if path.is_file():
                return path.read_text(encoding="utf-8")
            if default is not None:
                return default
            raise DoesNotExist(f"{basename} is not in {path.parent}")
    raise OSError(f"offline: unknown extension {url}")


def _local_loader(uri, **kwargs):
    for scheme in ("https", "http"):
        prefix = f"{scheme}://standard.open-contracting.org/schema/{schema.STANDARD_TAG}/"
        if uri.startswith(prefix):
            return json.loads((SCHEMA_DIR / uri[len(prefix) :].split("#")[0]).read_text(encoding="utf-8"))
    raise OSError(f"offline: refusing to fetch {uri}")


@contextmanager
def _offline(monkeypatch):
    """lib-cove-ocds with local files only; any socket it opens fails at once."""
    with monkeypatch.context() as patch:

        def no_network(*_args, **_kwargs):
            raise OSError("network disabled in tests")

        patch.setattr(socket.socket, "connect", no_network)
        patch.setattr(socket, "create_connection", no_network)
        patch.setattr(ExtensionVersion, "remote", _local_extension_file)
        original = jsonref.replace_refs
        patch.setattr(
            jsonref, "replace_refs", lambda obj, **kw: original(obj, **{"loader": _local_loader, **kw})
        )
        yield


def cove(package: dict, monkeypatch) -> dict:
    """lib-cove-ocds's report of a package (validation errors, codelists, extra fields...)."""
    config = LibCoveOCDSConfig()
    config.config["standard_zip"] = _standard_zip()
    config.config["context"] = "api"
    with _offline(monkeypatch), tempfile.TemporaryDirectory(prefix="cove-") as folder:
        path = Path(folder) / "package.json"
        path.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
        return libcoveocds.api.ocds_json_output(folder, str(path), None, lib_cove_ocds_config=config)


# ---------------------------------------------------------------- ocdskit


def compiled_by_ocdskit(release_package: dict) -> dict[str, dict]:
    """The compiled release of each ocid, as `ocdskit compile` makes it from a release package."""
    compiled = ocdskit.combine.merge([copy.deepcopy(release_package)], schema=schema.patched_release_schema())
    return {release["ocid"]: release for release in compiled}
