"""Every operation of the published schema has a query budget: a test marked
`@pytest.mark.query_budget(method, path)` that asserts how many queries it makes. A new
endpoint cannot slip past it, as none can past the isolation matrix
(tests/test_tenant_isolation.py)."""

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def budgeted_operations() -> set[tuple[str, str]]:
    """The (method, path) of every `query_budget` mark on a test function, read from
    the test files' source (importing them would run their module-level set-up)."""
    found = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and ast.unparse(decorator.func) == "pytest.mark.query_budget"
                ):
                    method, operation = (argument.value for argument in decorator.args)
                    found.add((method, operation))
    return found


@pytest.mark.django_db
def test_every_operation_in_the_schema_has_a_query_budget(client):
    schema = client.get("/v2/schema?format=json").json()
    published = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
        and not path.startswith(("/v2/schema", "/v2/docs"))
    }

    assert published == budgeted_operations()
