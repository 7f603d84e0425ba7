"""``python -m bench`` (``make bench``): run every benchmark."""

from __future__ import annotations

from bench import render

render.main([])
