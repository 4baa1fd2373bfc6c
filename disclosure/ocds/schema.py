"""The OCDS 1.1.5 schemas and the extensions the export uses, read from `schema/` beside this file.

Everything is local (copied from the standard and the extensions' repositories; see schema/NOTICE.md),
so building and validating the export needs no network. The release schema the export follows is the
core one patched with each extension's `release-schema.json`, a JSON Merge Patch (RFC 7396), the way
OCP's own tooling does it: null members of a patch are dropped first (a patch may add or override,
never remove).
"""

from __future__ import annotations

import copy
import csv
import json
from functools import cache
from pathlib import Path
from typing import Any

import json_merge_patch

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
EXTENSION_DIR = SCHEMA_DIR / "extensions"
STANDARD_TAG = "1__1__5"
STANDARD_URL = f"https://standard.open-contracting.org/schema/{STANDARD_TAG}/"
"""Where the standard publishes the four schema files (their `id`s and the packages' `$ref`s)."""

EXTENSIONS = ("bids", "metrics", "contract_completion")
"""The extensions the export uses, in the order their patches are applied."""


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def extension_base_urls() -> dict[str, str]:
    """Each extension's registry base URL (SOURCES.tsv), as OCP's registry publishes it."""
    with (EXTENSION_DIR / "SOURCES.tsv").open(newline="", encoding="utf-8") as sources:
        return {row["name"]: row["registry_base_url"] for row in csv.DictReader(sources, delimiter="\t")}


def extension_urls() -> list[str]:
    """What a package declares in `extensions`: the URL of each extension's extension.json."""
    bases = extension_base_urls()
    return [f"{bases[name]}extension.json" for name in EXTENSIONS]


@cache
def _patched_release_schema() -> dict:
    schema = _read(SCHEMA_DIR / "release-schema.json")
    for name in EXTENSIONS:
        patch = _drop_nulls(_read(EXTENSION_DIR / name / "release-schema.json"))
        schema = json_merge_patch.merge(schema, patch)
    return schema


def patched_release_schema() -> dict:
    """The core release schema with the extensions' patches applied (a fresh copy: callers may change it)."""
    return copy.deepcopy(_patched_release_schema())


def core_schema(name: str) -> dict:
    """One of the standard's files, unpatched: release-package-schema.json, record-package-schema.json..."""
    return _read(SCHEMA_DIR / name)
