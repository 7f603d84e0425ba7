"""Property tests: any form a forms file may declare, and anything posted to it, is never a 500.

Definitions are generated the way an operator writes them (then checked by
the loader, as at startup); posts mix values each field type accepts with
arbitrary JSON and text. Whatever arrives, the answer is a 2xx or a 4xx in
the error shape, and a 422 names only fields the form has.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sanic import Sanic

from service.app import create_app
from service.config import Settings, load_settings
from service.forms import FIELD_TYPES, Forms
from service.forms.loader import DEFAULT_FORM, build_form
from service.forms.spec import CORE_FIELDS, FormsFile, FormSpec
from tests.api.served import served

JSON = {"content-type": "application/json"}
LABEL = st.text(st.characters(categories=["L", "N", "Zs", "P"]), min_size=1, max_size=40)
OPTION = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda name: name not in CORE_FIELDS
)


@st.composite
def field_declarations(draw: st.DrawFn, name: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(FIELD_TYPES)))
    declared: dict[str, Any] = {"name": name, "type": kind, "label": draw(LABEL)}
    if draw(st.booleans()):
        declared["required"] = draw(st.booleans())
    keys = FIELD_TYPES[kind].keys
    if "max_length" in keys and draw(st.booleans()):
        declared["max_length"] = draw(st.integers(1, 300))
    if "options" in keys:
        declared["options"] = draw(st.lists(OPTION, min_size=1, max_size=4, unique=True))
    if "min" in keys and draw(st.booleans()):
        low = draw(st.integers(-1000, 1000))
        declared["min"] = low
        if draw(st.booleans()):
            declared["max"] = low + draw(st.integers(0, 1000))
    return declared


@st.composite
def form_declarations(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(NAMES, max_size=6, unique=True))
    declared: dict[str, Any] = {
        "fields": [draw(field_declarations(name)) for name in names],
        "message": draw(st.sampled_from(["required", "optional", "off"])),
        "company": draw(st.sampled_from(["required", "optional", "off"])),
    }
    if draw(st.booleans()):
        declared["title"] = draw(LABEL)
    return declared


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children)
    ),
    max_leaves=6,
)


def fitting(kind: str) -> st.SearchStrategy[Any]:
    """Values a field of ``kind`` is likely to accept, and near misses."""
    return {
        "text": st.text(max_size=250),
        "textarea": st.text(max_size=300),
        "email": st.emails() | st.text(max_size=30),
        "tel": st.from_regex(r"\+?[0-9 ()-]{0,20}", fullmatch=True),
        "url": st.sampled_from(["https://example.org/a", "http://x", "javascript:1", ""]),
        "number": st.integers(-2000, 2000).map(str) | st.floats().map(str) | st.integers(),
        "date": st.dates().map(str) | st.text(max_size=12),
        "select": st.text(max_size=12),
        "checkbox": st.sampled_from(["on", "", "off", True, False, None, "yes!"]),
        "consent": st.sampled_from(["on", "", True, False, None, 1]),
    }[kind]


@st.composite
def posts(draw: st.DrawFn, declared: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": draw(st.sampled_from(["Ada", "", "x" * 101]) | st.text(max_size=20)),
        "email": draw(st.sampled_from(["ada@example.org", "nope", ""]) | st.emails()),
        "message": draw(st.text(max_size=40)),
        "company": draw(st.text(max_size=20)),
    }
    for field in declared["fields"]:
        strategy = fitting(field["type"])
        if field["type"] == "select":
            strategy = strategy | st.sampled_from(field["options"])
        body[field["name"]] = draw(strategy | JSON_VALUES)
    for name in draw(st.lists(st.sampled_from(list(body)), max_size=3)):
        body.pop(name, None)
    return body


def forms_of(declared: dict[str, Any], settings: Settings) -> Forms:
    try:
        spec = FormsFile.model_validate({"forms": {"generated": declared}}).forms["generated"]
    except ValidationError:
        assume(False)
        raise
    return Forms(
        {
            DEFAULT_FORM: build_form(DEFAULT_FORM, FormSpec(), settings),
            "generated": build_form("generated", spec, settings),
        }
    )


# Building a form's model takes milliseconds; each generated form gets many posts.
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_validating_a_generated_form_raises_nothing_but_a_validation_error(
    data: st.DataObject,
) -> None:
    declared = data.draw(form_declarations())
    form = forms_of(declared, load_settings())["generated"]
    names = {field.name for field in form.fields}
    for _ in range(5):
        try:
            submission = form.validate(data.draw(posts(declared)))
        except ValidationError as err:
            refused = {str(item["loc"][0]) for item in err.errors()}
        else:
            refused = set()
            assert json.dumps(submission.fields)  # storable as JSON
        assert refused <= names
        if refused:
            continue
        assert [answer.name for answer in submission.answers] == [
            field.name for field in form.declared if field.name in submission.fields
        ]


@pytest.mark.asyncio
@settings(
    max_examples=6,  # an app per form: starting one takes about two seconds
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_any_post_to_any_generated_form_is_answered_without_a_500(
    data: st.DataObject, make_settings: Callable[..., Settings]
) -> None:
    settings_ = make_settings(contact_rate_limit="off", confirmation_rate_limit="off")
    declared = data.draw(form_declarations())
    app = create_app(settings=settings_, forms=forms_of(declared, settings_))
    try:
        async with served(app) as client:
            described = await client.get("/api/forms/generated")
            names = {field["name"] for field in described.json()["fields"]}
            for _ in range(8):
                body = data.draw(posts(declared))
                response = await client.post(
                    "/api/forms/generated", content=json.dumps(body).encode(), headers=JSON
                )
                assert response.status_code in (200, 422), response.text
                answer = response.json()
                assert answer["success"] is (response.status_code == 200)
                assert {error["field"] for error in answer.get("errors", [])} <= names
            page = await client.get("/f/generated")
            assert page.status_code == 200
    finally:
        Sanic._app_registry.pop(app.name, None)
