"""Compound STIX patterns: the comparisons of one observation, by the STIX 2.1 pattern grammar."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from threatstream.canonical.errors import InvalidIndicator

_ESCAPED = re.compile(r"\\(['\\])")


def unescape(text: str) -> str:
    """A STIX string literal's body without its escapes (``\\'`` and ``\\\\``)."""
    return _ESCAPED.sub(r"\1", text)


class Comparison(NamedTuple):
    """``<object>:<path> = <value>``; ``path`` holds keys and ``[*]`` / ``[n]`` index steps."""

    object: str
    path: tuple[str, ...]
    value: Any

    @property
    def dotted(self) -> str:
        """The path as a pattern writes it (``hashes.SHA-256``, ``resolves_to_refs[*].value``)."""
        return ".".join(self.path).replace(".[", "[")


def unsupported(message: str) -> InvalidIndicator:
    """An ``unsupported_pattern`` rejection with its reason."""
    return InvalidIndicator("unsupported_pattern", message)


#: An expression inside one observation: a comparison, or ("AND" | "OR", operands).
Expression = Comparison | tuple[str, list[Any]]


def parse_observation(text: str) -> Expression:
    """The comparisons of the pattern's one observation, as nested ``AND`` / ``OR``."""
    from stix2patterns.exceptions import ParseException  # heavy: imported only when needed
    from stix2patterns.v21.pattern import Pattern

    try:
        tree = Pattern(text).visit(_TreeOf())
    except ParseException as err:
        raise unsupported(f"{text[:120]!r} is not a valid STIX pattern ({str(err)[:120]})") from None
    observation = _one_observation(tree.getChild(0))
    return _expression(observation.getChild(1))


class _TreeOf:
    """A visitor that returns the parse tree itself (``Pattern`` keeps it private)."""

    def visit(self, tree: Any) -> Any:
        return tree


def _rule(node: Any) -> str:
    return type(node).__name__.removesuffix("Context")


def _one_observation(node: Any) -> Any:
    """The single ``[...]`` observation of the pattern; several, or qualifiers, are conditions."""
    while True:
        rule = _rule(node)
        if node.getChildCount() == 1 and rule.startswith("ObservationExpression"):
            node = node.getChild(0)
        elif rule == "ObservationExpressionSimple":
            return node
        elif rule == "ObservationExpressionCompound":
            node = node.getChild(1)
        elif node.getChildCount() == 3 and rule in (
            "ObservationExpressions",
            "ObservationExpressionOr",
            "ObservationExpressionAnd",
        ):
            raise unsupported(f"several observations joined by {node.getChild(1).getText()}")
        else:
            raise unsupported(f"an observation with a qualifier ({node.getText()[:120]})")


def _expression(node: Any) -> Expression:
    rule = _rule(node)
    if rule in ("ComparisonExpression", "ComparisonExpressionAnd"):
        if node.getChildCount() == 1:
            return _expression(node.getChild(0))
        operator = node.getChild(1).getText().upper()
        operands: list[Any] = []
        for side in (node.getChild(0), node.getChild(2)):
            inner = _expression(side)
            is_same = isinstance(inner, tuple) and not isinstance(inner, Comparison) and inner[0] == operator
            operands.extend(inner[1] if is_same else [inner])
        return (operator, operands)
    if rule == "PropTestParen":
        return _expression(node.getChild(1))
    if rule == "PropTestEqual":
        if node.getChildCount() != 3 or node.getChild(1).getText() != "=":
            raise unsupported(f"a condition, not an observable: {node.getText()[:120]}")
        obj, path = _object_path(node.getChild(0))
        return Comparison(obj, path, _literal(node.getChild(2)))
    words = {
        "PropTestOrder": "a range",
        "PropTestLike": "LIKE",
        "PropTestRegex": "MATCHES",
        "PropTestSet": "IN",
        "PropTestIsSubset": "ISSUBSET",
        "PropTestIsSuperset": "ISSUPERSET",
        "PropTestExists": "EXISTS",
    }
    what = words.get(rule, rule.removeprefix("PropTest") or rule)
    raise unsupported(f"a condition ({what}), not an observable: {node.getText()[:120]}")


def _object_path(node: Any) -> tuple[str, tuple[str, ...]]:
    obj = node.getChild(0).getText()
    steps = [_key(node.getChild(2).getText())]
    if node.getChildCount() > 3:
        steps.extend(_steps(node.getChild(3)))
    return obj, tuple(steps)


def _steps(node: Any) -> list[str]:
    rule = _rule(node)
    if rule == "PathStep":
        return [step for child in node.getChildren() for step in _steps(child)]
    if rule == "KeyPathStep":
        return [_key(node.getChild(1).getText())]
    return [node.getText()]  # an index step: [*] or [n]


def _key(text: str) -> str:
    return unescape(text[1:-1]) if text.startswith("'") else text


def _literal(node: Any) -> Any:
    text = node.getText()
    if text.startswith("'"):
        return unescape(text[1:-1])
    return int(text) if text.lstrip("+-").isdigit() else text
