"""Money never meets a binary float: the billing code has no float literal and no float() call."""

import ast
from pathlib import Path

BILLING = Path(__file__).resolve().parents[2] / "billing"


def test_the_billing_code_path_has_no_float_literals_or_float_calls():
    offences = []
    for path in sorted(BILLING.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                offences.append(f"{path.name}:{node.lineno} float literal {node.value!r}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
                offences.append(f"{path.name}:{node.lineno} float() call")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "total_seconds"
            ):
                offences.append(f"{path.name}:{node.lineno} timedelta.total_seconds() returns a float")
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _timedelta_like(node):
                offences.append(f"{path.name}:{node.lineno} timedelta / timedelta is a float")

    assert offences == []


def _timedelta_like(node: ast.BinOp) -> bool:
    return any(
        isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == "timedelta"
        for side in (node.left, node.right)
    )


def test_the_scan_would_catch_a_float():
    tree = ast.parse("price = 0.30\nvalue = float('1')")
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "float"]
    assert found and calls
