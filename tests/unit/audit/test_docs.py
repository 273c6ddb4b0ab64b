"""docs/audit.md stays true: its example runs and it names every audit error code."""

from __future__ import annotations

import re
from pathlib import Path

from skillmarket.audit import errors

DOC = (Path(__file__).parents[3] / "docs" / "audit.md").read_text()


class TestAuditDocs:
    def test_python_examples_run(self):
        blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
        assert blocks
        for block in blocks:
            exec(compile(block, "docs/audit.md", "exec"), {})

    def test_every_error_code_is_documented(self):
        codes = {
            obj.code
            for obj in vars(errors).values()
            if isinstance(obj, type) and issubclass(obj, errors.AuditError)
        }
        for code in codes - {"AUDIT_ERROR"}:
            assert f"`{code}`" in DOC
