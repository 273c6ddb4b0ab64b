"""docs/egress.md: its example runs and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[4] / "docs" / "egress.md"


def test_example_prints_what_the_doc_shows():
    text = DOC.read_text()
    code, shown = re.search(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", text, re.S).groups()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "egress_doc_example"})
    assert out.getvalue() == shown


def test_payload_count_in_the_doc_matches_the_tests():
    import test_egress_ssrf  # the sibling module, importable by pytest's rootdir insertion

    assert f"({len(test_egress_ssrf.PAYLOADS)} payloads" in DOC.read_text()
