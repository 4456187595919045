"""GraphiQL: the page, its locally served assets, its example tabs, and when it is off."""

from __future__ import annotations

import base64
import hashlib
import json
from html.parser import HTMLParser

import pytest
from graphql import OperationType, parse, validate

from schema import build_schema
from washgate import graphiql

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

# The builds Strawberry's own GraphiQL page pins with these integrity hashes (see the README there).
PINNED = {
    "react-18.2.0/react.production.min.js": "tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    "react-dom-18.2.0/react-dom.production.min.js": "bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
    "graphiql-3.8.3/graphiql.min.js": "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    "graphiql-3.8.3/graphiql.min.css": "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    "plugin-explorer-1.0.2/index.umd.js": "2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
    "plugin-explorer-1.0.2/style.css": "5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
    "js-cookie-3.0.5/js.cookie.min.js": "/vxhYfM1LENRhdpZ8dwEsQn/X4VhpbEZSiU4m/FwR+PVpzar4fkEOw8FP9Y+OfQN",
}


class PageParts(HTMLParser):
    """The page's scripts, links and the JSON config block."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.config_text = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values)
            self._in_config = values.get("id") == "washgate-graphiql-config"
        elif tag == "link":
            self.links.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_text += data


async def get_page(client) -> PageParts:
    response = await client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    parts = PageParts()
    parts.feed(response.text)
    return parts


async def test_page_is_graphiql_with_a_strict_policy(client):
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "<title>washgate GraphiQL</title>" in response.text
    assert '<div id="graphiql"' in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy  # no 'unsafe-inline' for scripts: the page has no inline code
    assert "connect-src 'self' ws: wss:" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_every_script_and_stylesheet_is_served_locally(client):
    parts = await get_page(client)
    sources = [script["src"] for script in parts.scripts if script.get("src")]
    stylesheets = [link["href"] for link in parts.links if link.get("rel") == "stylesheet"]
    assert sources == [
        "/graphiql-static/js-cookie-3.0.5/js.cookie.min.js",
        "/graphiql-static/react-18.2.0/react.production.min.js",
        "/graphiql-static/react-dom-18.2.0/react-dom.production.min.js",
        "/graphiql-static/graphiql-3.8.3/graphiql.min.js",
        "/graphiql-static/plugin-explorer-1.0.2/index.umd.js",
        "/graphiql-static/washgate-graphiql.js",
    ]
    assert stylesheets == [
        "/graphiql-static/graphiql-3.8.3/graphiql.min.css",
        "/graphiql-static/plugin-explorer-1.0.2/style.css",
        "/graphiql-static/washgate-graphiql.css",
    ]
    for url in sources + stylesheets:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        expected = "text/javascript" if url.endswith(".js") else "text/css"
        assert asset.headers["content-type"].split(";")[0] == expected, url
        assert len(asset.content) > 0
    # Nothing else is loaded: no remote URL on any element, no inline script but the JSON data block.
    for element in parts.scripts + parts.links:
        for value in element.values():
            assert not (value or "").lower().startswith(("http://", "https://", "//")), element
    inline = [script for script in parts.scripts if not script.get("src")]
    assert inline == [{"type": "application/json", "id": "washgate-graphiql-config"}]


async def test_page_has_no_remote_script_or_stylesheet_url(client):
    text = (await client.get("/graphql", headers=HTML)).text
    for needle in ('src="http', "src='http", 'href="http', "href='http", "unpkg", "jsdelivr", "integrity="):
        assert needle not in text


async def test_vendored_builds_are_the_pinned_ones(client):
    for path, digest in PINNED.items():
        body = (await client.get(f"/graphiql-static/{path}")).content
        assert base64.b64encode(hashlib.sha384(body).digest()).decode() == digest, path
        assert (graphiql.STATIC_DIR / path).parent.joinpath("LICENSE").is_file(), path


async def test_unknown_asset_is_404(client):
    response = await client.get("/graphiql-static/graphiql-3.8.3/nope.js")
    assert response.status_code == 404
    assert (await client.get("/graphiql-static/")).status_code == 404


async def test_first_tab_walks_through_sign_in_with_a_bearer_header(client):
    config = json.loads((await get_page(client)).config_text)
    assert config["endpoint"] == "/graphql"
    first = config["tabs"][0]
    document = parse(first["query"])
    names = [op.name.value for op in document.definitions]  # type: ignore[attr-defined]
    assert names == ["SendOtp", "Login", "Register", "Me"]
    assert json.loads(first["variables"]) == {"phone": "+79990000000", "otp": "", "name": "Demo"}
    assert json.loads(first["headers"]) == {"Authorization": "Bearer <tokens.accessToken from Login>"}
    for tab in config["tabs"]:
        parse(tab["query"])
        json.loads(tab["variables"])
        assert json.loads(tab["headers"])["Authorization"].startswith("Bearer ")


def test_example_operations_are_valid_against_the_schema():
    """Each tab is validated once the schema has every root field it uses (domains land separately)."""
    schema = build_schema(max_depth=10, max_aliases=15, max_tokens=2000, introspection=True)._schema
    roots = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }
    checked = []
    for tab in graphiql.EXAMPLE_TABS:
        document = parse(tab.query)
        available = all(
            roots[op.operation] is not None
            and all(selection.name.value in roots[op.operation].fields for selection in op.selection_set.selections)
            for op in document.definitions
        )
        if available:
            assert validate(schema, document) == [], tab.query
            checked.append(tab)
    assert graphiql.SIGN_IN in checked and graphiql.TOKENS in checked


@pytest.mark.settings(env="production", graphiql=None, delivery_webhook_url="http://127.0.0.1:9/hook")
async def test_off_in_production(client):
    page = await client.get("/graphql", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"] == "application/json"
    assert page.json() == {"data": None, "errors": [{"message": "Not Found", "extensions": {"code": "NOT_FOUND"}}]}
    for path in PINNED:
        assert (await client.get(f"/graphiql-static/{path}")).status_code == 404
    asset = await client.get("/graphiql-static/washgate-graphiql.js")
    assert asset.status_code == 404 and asset.json() == {"detail": "Not found"}


@pytest.mark.settings(env="production", graphiql=True, delivery_webhook_url="http://127.0.0.1:9/hook")
async def test_on_in_production_when_asked(client):
    parts = await get_page(client)
    assert parts.config_text
    assert (await client.get("/graphiql-static/washgate-graphiql.js")).status_code == 200
