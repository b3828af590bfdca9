"""The repository's own docs describe the whole API (a clone has nothing else to read):
every operation of the published schema has a row in an API doc, and no doc points
outside the repository."""

import re
from pathlib import Path

import pytest

from tests.conftest import schema_operations

ROOT = Path(__file__).resolve().parent.parent
API_DOCS = sorted((ROOT / "docs").glob("api-*.md"))
EVERY_DOC = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documented_operations() -> set[tuple[str, str]]:
    """(method, path) of each table row `| GET / PATCH | `/v2/x/{id}` | …` of the API docs."""
    found = set()
    for doc in API_DOCS:
        for methods, path in re.findall(r"^\| *([A-Z /]+?) *\| *`([^`]+)`", doc.read_text(), re.M):
            for method in methods.split("/"):
                found.add((method.strip().lower(), path.split("?")[0].rstrip("/") or "/"))
    return found


@pytest.mark.django_db
def test_every_operation_of_the_schema_is_documented(client):
    assert schema_operations(client) - documented_operations() == set()


@pytest.mark.parametrize("doc", EVERY_DOC, ids=lambda doc: doc.name)
def test_no_doc_points_outside_the_repository(doc):
    text = doc.read_text()
    assert "../shared" not in text
    assert not re.search(r"\bSPEC\b", text), "the spec is not part of a clone"
    for target in re.findall(r"\]\(((?!https?://|#)[^)]+)\)", text):
        assert (doc.parent / target.split("#")[0]).exists(), target
