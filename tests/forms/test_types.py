"""Every field type, valid and invalid, as a declared field of a form."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from service.api.schemas import field_errors
from service.forms import FIELD_TYPES, Form, PublicField

CORE = {"name": "Ada", "email": "ada@example.org", "message": "Hello"}


def form_with(field: PublicField) -> Form:
    return Form(
        id="test", title="Test", recipients=(), origins=(), redirect_url=None, declared=(field,)
    )


def field(kind: str, **options: Any) -> PublicField:
    return PublicField(
        **{"name": "answer", "type": kind, "label": "Answer", "required": False, **options}
    )


# (field, posted value, stored value)
VALID: list[tuple[PublicField, Any, Any]] = [
    (field("text"), "  one line  ", "one line"),
    (field("text", max_length=3), "abc", "abc"),
    (field("textarea"), "first\nsecond", "first\nsecond"),
    (field("email"), "Zoe@Example.ORG", "Zoe@example.org"),
    (field("email"), "zoe@bücher.example", "zoe@xn--bcher-kva.example"),
    (field("tel"), "+49 (30) 123-456", "+49 (30) 123-456"),
    (field("url"), "https://example.org/work", "https://example.org/work"),
    (field("url"), "http://example.org", "http://example.org/"),
    (field("number"), "42", 42),
    (field("number"), 2.5, 2.5),
    (field("number", min=1, max=10), "10", 10),
    (field("date"), "2030-02-28", "2030-02-28"),
    (field("select", options=("Red", "Blue")), "Blue", "Blue"),
    (field("checkbox"), "on", True),
    (field("checkbox"), True, True),
    (field("checkbox"), "", False),
    (field("consent", required=True), "on", True),
    (field("consent", required=True), True, True),
]

# (field, posted value, the message the visitor reads)
INVALID: list[tuple[PublicField, Any, str]] = [
    (field("text"), "two\nlines", "Must be a single line without control characters."),
    (field("text"), "x" * 201, "Must be at most 200 characters."),
    (field("text", max_length=3), "abcd", "Must be at most 3 characters."),
    (field("text"), ["a list"], "Must be text."),
    (field("textarea"), "x" * 5001, "Must be at most 5000 characters."),
    (field("email"), "not an address", "Must be a valid email address."),
    (field("email"), "a@b@example.org", "Must be a valid email address."),
    (field("tel"), "call me", "Must be a phone number: digits, spaces and + ( ) - . /."),
    (field("tel"), "12", "Must be a phone number: digits, spaces and + ( ) - . /."),
    (
        field("url"),
        "javascript:alert(1)",
        "Must be a web address starting with http:// or https://.",
    ),
    (field("url"), "ftp://example.org", "Must be a web address starting with http:// or https://."),
    (field("number"), "12abc", "Must be a number."),
    (field("number"), "NaN", "Must be a number."),
    (field("number"), True, "Must be a number."),
    (field("number", min=1, max=10), "11", "Must be at most 10."),
    (field("number", min=1.5), 1, "Must be at least 1.5."),
    (field("date"), "28.02.2030", "Must be a date written year-month-day, like 2030-01-31."),
    (field("date"), "2030-02-30", "Must be a date written year-month-day, like 2030-01-31."),
    (field("select", options=("Red", "Blue")), "Green", "Must be one of the listed options."),
    (field("checkbox"), "maybe", "Must be checked or not."),
    (field("checkbox", required=True), "", "Must be checked."),
    (field("consent", required=True), "", "Must be checked."),
    (field("consent", required=True), False, "Must be checked."),
]


def test_every_type_is_tested_both_ways() -> None:
    assert {spec.type for spec, _, _ in VALID} == set(FIELD_TYPES)
    assert {spec.type for spec, _, _ in INVALID} == set(FIELD_TYPES)


@pytest.mark.parametrize(("spec", "posted", "stored"), VALID)
def test_a_valid_value_is_accepted_and_stored(spec: PublicField, posted: Any, stored: Any) -> None:
    submission = form_with(spec).validate({**CORE, "answer": posted})
    assert submission.fields == {"answer": stored}
    assert type(submission.fields["answer"]) is type(stored)


@pytest.mark.parametrize(("spec", "posted", "message"), INVALID)
def test_an_invalid_value_is_refused_with_a_message(
    spec: PublicField, posted: Any, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        form_with(spec).validate({**CORE, "answer": posted})
    errors = field_errors(caught.value)
    assert [(error.field, error.message) for error in errors] == [("answer", message)]


@pytest.mark.parametrize("kind", [kind for kind in FIELD_TYPES if not FIELD_TYPES[kind].boolean])
def test_a_required_field_left_blank_is_required(kind: str) -> None:
    spec = field(kind, required=True, options=("A",) if kind == "select" else None)
    for blank in (None, "", "   "):
        with pytest.raises(ValidationError) as caught:
            form_with(spec).validate({**CORE, "answer": blank})
        assert field_errors(caught.value)[0].message == "This field is required."
    with pytest.raises(ValidationError):
        form_with(spec).validate(CORE)


@pytest.mark.parametrize("kind", [kind for kind in FIELD_TYPES if not FIELD_TYPES[kind].boolean])
def test_an_optional_field_left_blank_is_not_stored(kind: str) -> None:
    spec = field(kind, options=("A",) if kind == "select" else None)
    assert form_with(spec).validate({**CORE, "answer": ""}).answers == ()
    assert form_with(spec).validate(CORE).answers == ()


def test_an_unchecked_consent_is_missing_consent_and_a_checked_one_is_recorded() -> None:
    spec = field("consent", required=True)
    with pytest.raises(ValidationError) as caught:
        form_with(spec).validate(CORE)
    assert field_errors(caught.value)[0].field == "answer"
    submission = form_with(spec).validate({**CORE, "answer": "on"})
    (consent,) = submission.consents
    assert (consent.field, consent.label) == ("answer", "Answer")
    assert consent.given_at == submission.created_at


def test_every_type_has_a_sample_its_own_validation_accepts() -> None:
    for kind in FIELD_TYPES:
        spec = field(kind, required=True, options=("A", "B") if kind == "select" else None)
        sample = FIELD_TYPES[kind].sample(spec)
        assert form_with(spec).validate({**CORE, "answer": sample}).fields["answer"] is not None
