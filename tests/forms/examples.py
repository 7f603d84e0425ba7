"""The issue's example forms file, and helpers to build forms from TOML text in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.config import load_settings
from service.forms import Forms, load_forms

__all__ = ["EXAMPLE", "forms_from"]

EXAMPLE = """\
[forms.contact]                       # the form behind POST /api/contact
title = "Contact"
recipients = ["sales@example.com"]    # default: CONTACT_RECIPIENTS
origins = ["https://www.example.com"] # CORS and frame-ancestors; default: CORS_ORIGINS
redirect_url = "https://www.example.com/thanks"   # default: CONTACT_REDIRECT_URL or /thanks
confirmation = true                   # send the visitor a confirmation (default true)
message = "required"                  # "required" (default) | "optional" | "off"
company = "optional"                  # "optional" (default) | "required" | "off"

[[forms.contact.fields]]
name = "phone"
type = "tel"
label = "Phone"

[forms.careers]
title = "Careers"
recipients = ["jobs@example.com"]
message = "optional"

[[forms.careers.fields]]
name = "position"
type = "select"
label = "Position"
options = ["Backend engineer", "Designer"]
required = true

[[forms.careers.fields]]
name = "portfolio"
type = "url"
label = "Portfolio"

[[forms.careers.fields]]
name = "consent"
type = "consent"
label = "I agree that my application is kept for six months."
"""
"""The example of issue 12, as written there."""


def forms_from(directory: Path, text: str, **settings: Any) -> Forms:
    """The forms ``text`` declares, written to ``directory/forms.toml``; raises FormsError."""
    path = directory / "forms.toml"
    path.write_text(text, encoding="utf-8")
    return load_forms(load_settings(forms_file=str(path), **settings))
