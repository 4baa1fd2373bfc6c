"""GraphiQL is served from the app's own files, installed by the set-up from pinned npm tarballs."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import app as application
from core import graphiql
from core.settings import Settings, get_settings

HTML = {"Accept": "text/html"}
TYPES = {".js": "javascript", ".css": "text/css"}


class References(HTMLParser):
    """Every src and href of a page."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


def _client(settings: Settings, sessionmaker) -> httpx.AsyncClient:
    asgi = application.create_app(settings=settings, sessionmaker=sessionmaker)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test")


@pytest.fixture
def assets():
    if not graphiql.installed():
        pytest.fail("GraphiQL's files are not installed: run `make install`", pytrace=False)
    return graphiql.ASSETS_DIR


async def test_the_page_refers_only_to_files_this_server_serves(assets, sessionmaker):
    async with _client(get_settings(), sessionmaker) as client:
        page = await client.get("/graphql", headers=HTML)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        html = page.text
        assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]", html), "an external address in the page"
        assert "unpkg" not in html
        urls = [url for url in references(html) if not url.startswith("data:")]
        scripts = [url for url in urls if url.endswith(".js")]
        styles = [url for url in urls if url.endswith(".css")]
        assert len(scripts) == 4 and len(styles) == 2, urls
        assert set(urls) == {*scripts, *styles}
        for url in urls:
            assert not url.startswith(("/", "http:", "https:")), url  # relative: works under a prefix too
            served = await client.get(f"/{url}")  # the page is at /graphql, so relative to /
            assert served.status_code == 200, url
            assert TYPES[Path(url).suffix] in served.headers["content-type"], (url, served.headers)
            on_disk = assets / url.removeprefix("graphiql/")
            assert served.content == on_disk.read_bytes() and served.content


def test_the_served_files_are_those_strawberrys_page_loads_from_unpkg(assets):
    """The same bytes as the CDN's: strawberry's page pins their sha384 (subresource integrity)."""
    import strawberry

    cdn_page = (Path(strawberry.__file__).parent / "static" / "graphiql.html").read_text(encoding="utf-8")
    pinned = dict(
        re.findall(r'(?:src|href)="https://unpkg\.com/([^"]+)"\s+integrity="sha384-([^"]+)"', cdn_page)
    )
    ours = {
        "react@18.2.0/umd/react.production.min.js": "react@18.2.0/umd/react.production.min.js",
        "react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom@18.2.0/umd/react-dom.production.min.js",
        "graphiql@3.8.3/graphiql.min.js": "graphiql@3.8.3/graphiql.min.js",
        "graphiql@3.8.3/graphiql.min.css": "graphiql@3.8.3/graphiql.min.css",
        "@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "@graphiql/plugin-explorer@1.0.2/dist/index.umd.js",
        "@graphiql/plugin-explorer@1.0.2/dist/style.css": "@graphiql/plugin-explorer@1.0.2/dist/style.css",
    }
    for cdn_path, local in ours.items():
        digest = base64.b64encode(hashlib.sha384((assets / local).read_bytes()).digest()).decode()
        assert pinned[cdn_path] == digest, cdn_path


async def test_without_its_files_the_page_says_how_to_install_them(tmp_path, monkeypatch, sessionmaker):
    monkeypatch.setattr(graphiql, "ASSETS_DIR", tmp_path / "nothing-here")
    async with _client(get_settings(), sessionmaker) as client:
        page = await client.get("/graphql", headers=HTML)
        assert page.status_code == 503
        assert "GraphiQL is not installed" in page.text and "make install" in page.text
        assert "market graphiql install" in page.text
        assert "<script" not in page.text  # nothing that could hang at "Loading…"
        missing = await client.get(f"/{graphiql.asset_url(graphiql.REACT, 'umd/react.production.min.js')}")
        assert missing.status_code == 404
        # The API itself still answers.
        answer = await client.post("/graphql", json={"query": "{ now }"})
        assert answer.status_code == 200 and answer.json()["data"]["now"]


async def test_graphiql_stays_off_in_production(assets, sessionmaker):
    production = Settings(environment="production", secret_key="x" * 40, market_test_clock=False)
    assert not production.introspection_enabled
    async with _client(production, sessionmaker) as client:
        page = await client.get("/graphql", headers=HTML)
        assert "GraphiQL" not in page.text
        asset = await client.get(f"/{graphiql.asset_url(graphiql.REACT, 'umd/react.production.min.js')}")
        assert asset.status_code == 404
    switched_on = Settings(
        environment="production", secret_key="x" * 40, market_test_clock=False, graphql_introspection=True
    )
    async with _client(switched_on, sessionmaker) as client:
        assert (await client.get("/graphql", headers=HTML)).status_code == 200


# ---------------------------------------------------------------- the installer, against a local registry


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class Registry:
    """An npm registry on 127.0.0.1 serving tarballs by path; it counts requests."""

    def __init__(self):
        self.tarballs: dict[str, bytes] = {}
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                registry.requests.append(self.path)
                body = registry.tarballs.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"not found")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(
        self, name: str, version: str, files: dict[str, bytes], keep: tuple[str, ...]
    ) -> graphiql.Package:
        data = _tarball(files)
        package = graphiql.Package(name, version, _integrity(data), keep, licence="LICENSE")
        self.tarballs[f"/{package.tarball}"] = data
        return package


@pytest.fixture
def registry():
    registry = Registry()
    yield registry
    registry.server.shutdown()
    registry.server.server_close()


def test_install_checks_each_tarball_and_keeps_only_the_named_files(registry, tmp_path):
    lib = registry.publish(
        "@scope/lib",
        "1.2.3",
        {"dist/lib.js": b"lib();", "LICENSE": b"MIT", "README.md": b"not kept"},
        ("dist/lib.js",),
    )
    other = registry.publish("other", "0.1.0", {"other.css": b"a{}", "LICENSE": b"MIT"}, ("other.css",))
    target = tmp_path / "assets"
    assert graphiql.install(target, registry=registry.url, packages=[lib, other])
    assert registry.requests == ["/@scope/lib/-/lib-1.2.3.tgz", "/other/-/other-0.1.0.tgz"]
    assert (target / "@scope/lib@1.2.3/dist/lib.js").read_bytes() == b"lib();"
    assert (target / "other@0.1.0/other.css").read_bytes() == b"a{}"
    assert not (target / "@scope/lib@1.2.3/README.md").exists()
    assert graphiql.installed(target, [lib, other])
    # Once there, nothing is downloaded again.
    assert not graphiql.install(target, registry=registry.url, packages=[lib, other])
    assert len(registry.requests) == 2
    # A changed pin (another version) is a new install.
    newer = registry.publish("other", "0.2.0", {"other.css": b"b{}", "LICENSE": b"MIT"}, ("other.css",))
    assert not graphiql.installed(target, [lib, newer])
    assert graphiql.install(target, registry=registry.url, packages=[lib, newer])
    assert (target / "other@0.2.0/other.css").read_bytes() == b"b{}" and not (target / "other@0.1.0").exists()


def test_a_tarball_that_fails_its_integrity_check_installs_nothing(registry, tmp_path):
    good = registry.publish("good", "1.0.0", {"good.js": b"ok", "LICENSE": b"MIT"}, ("good.js",))
    target = tmp_path / "assets"
    graphiql.install(target, registry=registry.url, packages=[good])
    before = sorted(p.relative_to(target) for p in target.rglob("*"))

    tampered = registry.publish("evil", "1.0.0", {"evil.js": b"steal()", "LICENSE": b"MIT"}, ("evil.js",))
    registry.tarballs[f"/{tampered.tarball}"] = _tarball({"evil.js": b"worse()", "LICENSE": b"MIT"})
    with pytest.raises(graphiql.AssetError, match=r"evil@1\.0\.0: tarball sha512 .* is not the pinned"):
        graphiql.install(target, registry=registry.url, packages=[good, tampered])
    # The previous install is untouched, and no staging folder is left behind.
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert graphiql.installed(target, [good])
    assert [p.name for p in tmp_path.iterdir()] == ["assets"]


def test_install_names_what_is_wrong(registry, tmp_path):
    target = tmp_path / "assets"
    lacking = registry.publish("lacking", "1.0.0", {"there.js": b"1", "LICENSE": b"MIT"}, ("there.js",))
    lacking = graphiql.Package(lacking.name, lacking.version, lacking.integrity, ("missing.js",))
    with pytest.raises(graphiql.AssetError, match=r"lacking@1\.0\.0: its tarball has no missing\.js"):
        graphiql.install(target, registry=registry.url, packages=[lacking])
    unpublished = graphiql.Package("nowhere", "9.9.9", _integrity(b""), ("x.js",))
    with pytest.raises(graphiql.AssetError, match=r"cannot download .*/nowhere/-/nowhere-9\.9\.9\.tgz"):
        graphiql.install(target, registry=registry.url, packages=[unpublished])
    weak = graphiql.Package("weak", "1.0.0", "sha1-abc", ("x.js",))
    registry.tarballs[f"/{weak.tarball}"] = b"x"
    with pytest.raises(graphiql.AssetError, match="only sha512"):
        graphiql.install(target, registry=registry.url, packages=[weak])
    assert not target.exists()


def test_the_command_fails_in_one_line_without_the_registry(monkeypatch, tmp_path):
    monkeypatch.setattr(graphiql, "ASSETS_DIR", tmp_path / "assets")
    monkeypatch.setenv("NPM_REGISTRY", "http://127.0.0.1:9")  # nothing listens on the discard port
    result = CliRunner().invoke(application.cli, ["graphiql", "install"])
    assert result.exit_code == 1
    assert result.output.startswith("error: GraphiQL not installed: cannot download http://127.0.0.1:9/")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_the_pins_are_sha512_and_the_page_uses_every_pinned_file():
    page = graphiql.page().body.decode() if graphiql.installed() else None
    for package in graphiql.PACKAGES:
        algorithm, _, digest = package.integrity.partition("-")
        assert algorithm == "sha512" and len(base64.b64decode(digest)) == 64
        if page is not None:
            for name in package.files:
                assert graphiql.asset_url(package, name) in page
