"""Forms as configuration: every form the service serves, its fields and where it goes.

:func:`load_forms` reads ``FORMS_FILE`` into :class:`Forms` at startup; the
API validates each post with its :class:`Form`; field types live in
:mod:`service.forms.types`, one definition each.
"""

from __future__ import annotations

from service.forms.form import Form, PublicField
from service.forms.loader import DEFAULT_FORM, Forms, FormsError, load_forms
from service.forms.types import FIELD_TYPES, FieldType

__all__ = [
    "DEFAULT_FORM",
    "FIELD_TYPES",
    "FieldType",
    "Form",
    "Forms",
    "FormsError",
    "PublicField",
    "load_forms",
]
