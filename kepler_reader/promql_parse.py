"""A parser for the PromQL subset that :mod:`kepler_reader.promql` evaluates.

The grammar, from lowest to highest precedence (``^`` is right-associative, the rest
left-associative)::

    expr     = additive
    additive = multiply { ("+" | "-") multiply }
    multiply = unary { ("*" | "/" | "%") unary }
    unary    = ("-" | "+") unary | power
    power    = postfix [ "^" unary ]
    postfix  = primary [ "[" duration "]" ] [ "offset" ["-"] duration ]
    primary  = number | "(" expr ")" | call | aggregate | selector
    call     = function "(" [ expr { "," expr } ] ")"
    aggregate = ("sum" | "avg" | "min" | "max" | "count")
                ( grouping "(" expr ")" | "(" expr ")" [ grouping ] )
    grouping = ("by" | "without") "(" [ label { "," label } [","] ] ")"
    selector = metric_name [ "{" matchers "}" ] | "{" matchers "}"
    matchers = [ matcher { "," matcher } [","] ]
    matcher  = label ( "=" | "!=" | "=~" | "!~" ) string
    string   = '"' ... '"' | "'" ... "'" | "`" ... "`"
    duration = ( digits unit )+            units ms s m h d w y

Everything else PromQL has (comparison and set operators, vector matching, ``@``,
subqueries, other functions and aggregations) raises
:class:`~kepler_reader.exceptions.UnsupportedQueryError` naming the construct, and
anything that is not PromQL raises :class:`~kepler_reader.exceptions.QueryError`.
"""

from __future__ import annotations

import re

import attrs

from .exceptions import QueryError, UnsupportedQueryError

__all__ = [
    "AGGREGATIONS",
    "FUNCTIONS",
    "Aggregate",
    "Binary",
    "Call",
    "Expr",
    "Matcher",
    "MatrixSelector",
    "Number",
    "VectorSelector",
    "parse_duration",
    "parse_expression",
]

#: Aggregation operators the evaluator supports.
AGGREGATIONS = ("sum", "avg", "min", "max", "count")

#: Functions the evaluator supports, each with its argument kinds.
FUNCTIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "rate",
            "irate",
            "increase",
            "delta",
            "idelta",
            "resets",
            "changes",
            "avg_over_time",
            "min_over_time",
            "max_over_time",
            "sum_over_time",
            "count_over_time",
            "last_over_time",
            "present_over_time",
            "stddev_over_time",
            "stdvar_over_time",
        ),
        ("matrix",),
    ),
    "quantile_over_time": ("scalar", "matrix"),
}

_OTHER_AGGREGATIONS = (
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "limitk",
    "limit_ratio",
)
_KEYWORDS = ("by", "without", "offset", "bool", "on", "ignoring")
_SET_OPERATORS = ("and", "or", "unless", "atan2")

_DURATION_UNITS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_NUMBER = re.compile(
    r"(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Longest first, so that "!=" is not read as "!" and "=".
_OPERATORS = (
    *("!=", "=~", "!~", "==", "<=", ">="),
    *("(", ")", "{", "}", "[", "]", ",", "=", "+", "-", "*", "/", "%", "^"),
    *("<", ">", "@", ":"),
)


@attrs.frozen(slots=True)
class _Token:
    kind: str  # "number", "duration", "ident", "string", "op", "end"
    text: str
    at: int


def parse_duration(text: str, *, expression: str = "", at: int = 0) -> int:
    """A PromQL duration (``90s``, ``1h30m``) in milliseconds.

    Raises:
        QueryError: Not a duration, units out of order or repeated, or longer than
            2**53 milliseconds.
    """
    if not _DURATION.fullmatch(text):
        raise QueryError(
            f"expected a duration such as 5m or 1h30m, got {text!r}",
            expression=expression or text,
            position=at,
        )
    total = 0
    last = float("inf")
    for digits, unit in _DURATION_PART.findall(text):
        size = _DURATION_UNITS[unit]
        if size >= last:
            raise QueryError(
                f"the units of duration {text!r} are repeated or out of order",
                expression=expression or text,
                position=at,
            )
        last = size
        total += int(digits) * size
    # 2**53 ms (about 285,000 years) keeps sums of times and durations inside int64.
    if total > 2**53:
        raise QueryError(
            f"the duration {text!r} is too long (at most 285,000 years)",
            expression=expression or text,
            position=at,
        )
    return total


def _tokens(expression: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    n = len(expression)
    while i < n:
        char = expression[i]
        if char.isspace():
            i += 1
            continue
        if char == "#":
            end = expression.find("\n", i)
            i = n if end < 0 else end
            continue
        if char in "\"'`":
            i = _string(expression, i, out)
            continue
        if char.isdigit() or (char == "." and expression[i + 1 : i + 2].isdigit()):
            duration = _DURATION.match(expression, i)
            number = _NUMBER.match(expression, i)
            assert number is not None
            if duration and duration.end() > number.end():
                out.append(_Token("duration", duration.group(), i))
                i = duration.end()
            else:
                out.append(_Token("number", number.group(), i))
                i = number.end()
            continue
        ident = _IDENT.match(expression, i)
        if ident:
            out.append(_Token("ident", ident.group(), i))
            i = ident.end()
            continue
        for op in _OPERATORS:
            if expression.startswith(op, i):
                out.append(_Token("op", op, i))
                i += len(op)
                break
        else:
            raise QueryError(
                f"unexpected character {char!r}", expression=expression, position=i
            )
    out.append(_Token("end", "", n))
    return out


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_ESCAPES |= {"v": "\v", "\\": "\\", "'": "'", '"': '"'}
_CODE_POINT = re.compile(r"x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}")


def _string(expression: str, start: int, out: list[_Token]) -> int:
    """A quoted string; ``"..."`` and ``'...'`` take Go escapes, backticks none."""
    quote = expression[start]
    i = start + 1
    text: list[str] = []
    while i < len(expression):
        char = expression[i]
        if char == quote:
            out.append(_Token("string", "".join(text), start))
            return i + 1
        if char == "\\" and quote != "`":
            following = expression[i + 1 : i + 2]
            if following in _ESCAPES:
                text.append(_ESCAPES[following])
                i += 2
                continue
            code = _CODE_POINT.match(expression, i + 1)
            if code:
                text.append(chr(int(code.group()[1:], 16)))
                i = code.end()
                continue
            raise QueryError(
                f"unknown escape sequence \\{following}",
                expression=expression,
                position=i,
            )
        if char == "\n" and quote != "`":
            break
        text.append(char)
        i += 1
    raise QueryError("unterminated string", expression=expression, position=start)


# ---------------------------------------------------------------------------------
# The syntax tree


@attrs.frozen(slots=True)
class Number:
    """A number literal."""

    value: float


@attrs.frozen(slots=True)
class Matcher:
    """One label matcher: ``label op value`` with op ``=``, ``!=``, ``=~`` or ``!~``."""

    label: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = attrs.field(default=None, eq=False)

    def matches(self, value: str) -> bool:
        """Whether a label value (``""`` when the label is absent) matches."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(value) is not None
        return found if self.op == "=~" else not found


@attrs.frozen(slots=True)
class VectorSelector:
    """An instant selector, with its offset in milliseconds."""

    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    at: int = 0


@attrs.frozen(slots=True)
class MatrixSelector:
    """A range selector: an instant selector and a range in milliseconds."""

    selector: VectorSelector
    range_ms: int
    at: int = 0


@attrs.frozen(slots=True)
class Call:
    """A function call."""

    function: str
    args: tuple[Expr, ...]
    at: int = 0


@attrs.frozen(slots=True)
class Aggregate:
    """An aggregation, grouping ``by`` the labels or ``without`` them."""

    op: str
    expr: Expr
    labels: tuple[str, ...] | None  # None: no grouping clause
    without: bool = False
    at: int = 0


@attrs.frozen(slots=True)
class Binary:
    """An arithmetic operation: ``+``, ``-``, ``*``, ``/``, ``%`` or ``^``."""

    op: str
    lhs: Expr
    rhs: Expr
    at: int = 0


Expr = Number | VectorSelector | MatrixSelector | Call | Aggregate | Binary


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.i = 0

    # Token helpers

    @property
    def token(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_op(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.text in ops

    def is_ident(self, *names: str) -> bool:
        return self.token.kind == "ident" and self.token.text in names

    def fail(self, reason: str, at: int | None = None) -> QueryError:
        where = self.token.at if at is None else at
        return QueryError(reason, expression=self.expression, position=where)

    def unsupported(
        self, what: str, at: int | None = None, hint: str = ""
    ) -> UnsupportedQueryError:
        where = self.token.at if at is None else at
        return UnsupportedQueryError(
            f"{what} is not supported by kepler-reader's PromQL subset{hint}",
            expression=self.expression,
            position=where,
        )

    def expect_op(self, op: str) -> _Token:
        if not self.is_op(op):
            raise self.fail(f"expected {op!r}, found {self.describe()}")
        return self.advance()

    def describe(self) -> str:
        token = self.token
        if token.kind == "end":
            return "the end of the expression"
        if token.kind == "string":
            return f"the string {token.text!r}"
        return repr(token.text)

    # Grammar rules

    def parse(self) -> Expr:
        if self.token.kind == "end":
            raise self.fail("the expression is empty")
        expr = self.additive()
        if self.token.kind != "end":
            self.reject_operator()
            raise self.fail(f"unexpected {self.describe()}")
        return expr

    def reject_operator(self) -> None:
        token = self.token
        if token.kind == "op" and token.text in ("==", "!=", "<", ">", "<=", ">="):
            raise self.unsupported(f"the comparison operator {token.text!r}")
        if token.kind == "ident" and token.text in _SET_OPERATORS:
            raise self.unsupported(f"the operator {token.text!r}")
        if token.kind == "op" and token.text == "@":
            raise self.unsupported("the @ modifier")

    def additive(self) -> Expr:
        expr = self.multiply()
        while self.is_op("+", "-"):
            op = self.advance()
            expr = Binary(op.text, expr, self.multiply(), at=op.at)
        return expr

    def multiply(self) -> Expr:
        expr = self.unary()
        while self.is_op("*", "/", "%"):
            op = self.advance()
            expr = Binary(op.text, expr, self.unary(), at=op.at)
        return expr

    def unary(self) -> Expr:
        if self.is_op("-", "+"):
            op = self.advance()
            operand = self.unary()
            if op.text == "+":
                return operand
            if isinstance(operand, Number):
                return Number(-operand.value)
            return Binary("*", Number(-1.0), operand, at=op.at)
        return self.power()

    def power(self) -> Expr:
        base = self.postfix()
        if self.is_op("^"):
            op = self.advance()
            return Binary("^", base, self.unary(), at=op.at)
        return base

    def postfix(self) -> Expr:
        start = self.token.at
        expr = self.primary()
        if self.is_op("["):
            bracket = self.advance()
            if not isinstance(expr, VectorSelector):
                raise self.fail(
                    "a range [..] can follow only a metric selector", bracket.at
                )
            if self.token.kind != "duration":
                raise self.fail(f"expected a duration, found {self.describe()}")
            range_ms = parse_duration(
                self.token.text, expression=self.expression, at=self.token.at
            )
            self.advance()
            # A metric name may start with ":", so "[5m:1m]" lexes its step as one.
            if self.is_op(":") or (
                self.token.kind == "ident" and self.token.text.startswith(":")
            ):
                raise self.unsupported("a subquery [range:step]")
            self.expect_op("]")
            expr = MatrixSelector(expr, range_ms, at=start)
        if self.is_ident("offset"):
            expr = self.offset(expr)
        if self.is_op("@"):
            raise self.unsupported("the @ modifier")
        if self.is_op("["):
            raise self.unsupported("a subquery [range:step]")
        return expr

    def offset(self, expr: Expr) -> Expr:
        keyword = self.advance()
        sign = -1 if self.is_op("-") else 1
        if sign < 0:
            self.advance()
        if self.token.kind != "duration":
            raise self.fail(
                f"expected a duration after offset, found {self.describe()}"
            )
        shift = sign * parse_duration(
            self.token.text, expression=self.expression, at=self.token.at
        )
        self.advance()
        if isinstance(expr, VectorSelector):
            return attrs.evolve(expr, offset_ms=expr.offset_ms + shift)
        if isinstance(expr, MatrixSelector):
            selector = attrs.evolve(
                expr.selector, offset_ms=expr.selector.offset_ms + shift
            )
            return attrs.evolve(expr, selector=selector)
        raise self.fail("offset can follow only a selector", keyword.at)

    def primary(self) -> Expr:
        token = self.token
        if token.kind == "number":
            self.advance()
            text = token.text
            return Number(
                float(int(text, 16)) if text[:2] in ("0x", "0X") else float(text)
            )
        if token.kind == "duration":
            raise self.fail(
                f"a duration ({token.text}) can appear only in [..] or after offset"
            )
        if token.kind == "string":
            raise self.unsupported("a string literal")
        if self.is_op("("):
            self.advance()
            expr = self.additive()
            self.expect_op(")")
            return expr
        if self.is_op("{"):
            return self.selector(None, token.at)
        if token.kind == "ident":
            return self.identifier()
        self.reject_operator()
        raise self.fail(f"unexpected {self.describe()}")

    def identifier(self) -> Expr:
        token = self.advance()
        name = token.text
        lower = name.lower()
        if lower in ("inf", "nan") and not self.is_op("{", "("):
            return Number(float(lower))
        if lower in AGGREGATIONS and self.is_op("(") | self.is_ident("by", "without"):
            return self.aggregate(lower, token.at)
        if lower in _OTHER_AGGREGATIONS and self.is_op("("):
            raise self.unsupported(f"the aggregation {name}()", token.at)
        if self.is_op("("):
            return self.call(name, token.at)
        if name in _KEYWORDS or name in _SET_OPERATORS:
            raise self.fail(f"unexpected keyword {name!r}", token.at)
        return self.selector(name, token.at)

    def call(self, name: str, at: int) -> Expr:
        kinds = FUNCTIONS.get(name)
        if kinds is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.unsupported(
                f"the function {name}()", at, f" (supported functions: {known})"
            )
        self.expect_op("(")
        args: list[Expr] = []
        while not self.is_op(")"):
            args.append(self.additive())
            if not self.is_op(","):
                break
            self.advance()
        self.expect_op(")")
        if len(args) != len(kinds):
            raise self.fail(
                f"{name}() takes {len(kinds)} argument{'s' * (len(kinds) > 1)}, "
                f"got {len(args)}",
                at,
            )
        for arg, kind in zip(args, kinds, strict=True):
            if kind == "matrix" and not isinstance(arg, MatrixSelector):
                raise self.fail(
                    f"{name}() expects a range vector such as x[5m]"
                    + (
                        " (a subquery would be needed here, which is not supported)"
                        if not isinstance(arg, VectorSelector | Number)
                        else ""
                    ),
                    at,
                )
        return Call(name, tuple(args), at=at)

    def grouping(self) -> tuple[bool, tuple[str, ...]]:
        without = self.advance().text == "without"
        self.expect_op("(")
        labels: list[str] = []
        while not self.is_op(")"):
            if self.token.kind != "ident" or not _LABEL.fullmatch(self.token.text):
                raise self.fail(f"expected a label name, found {self.describe()}")
            labels.append(self.advance().text)
            if not self.is_op(","):
                break
            self.advance()
        self.expect_op(")")
        return without, tuple(labels)

    def aggregate(self, op: str, at: int) -> Expr:
        labels: tuple[str, ...] | None = None
        without = False
        if self.is_ident("by", "without"):
            without, labels = self.grouping()
        self.expect_op("(")
        expr = self.additive()
        if self.is_op(","):
            raise self.fail(f"{op}() takes one argument")
        self.expect_op(")")
        if self.is_ident("by", "without"):
            if labels is not None:
                raise self.fail("a second grouping clause")
            without, labels = self.grouping()
        return Aggregate(op, expr, labels, without, at=at)

    def selector(self, name: str | None, at: int) -> VectorSelector:
        matchers: list[Matcher] = []
        if name is not None:
            matchers.append(Matcher("__name__", "=", name))
        if self.is_op("{"):
            self.advance()
            while not self.is_op("}"):
                matchers.append(self.matcher())
                if not self.is_op(","):
                    break
                self.advance()
            self.expect_op("}")
        if (
            not any(m.label == "__name__" or not m.matches("") for m in matchers)
            or not matchers
        ):
            raise self.fail(
                "a selector needs a metric name or a matcher that does not match "
                "the empty string",
                at,
            )
        return VectorSelector(tuple(matchers), at=at)

    def matcher(self) -> Matcher:
        if self.token.kind != "ident" or not _LABEL.fullmatch(self.token.text):
            raise self.fail(f"expected a label name, found {self.describe()}")
        label = self.advance().text
        if not self.is_op("=", "!=", "=~", "!~"):
            raise self.fail(
                f"expected one of =, !=, =~, !~ after {label}, found {self.describe()}"
            )
        op = self.advance().text
        if self.token.kind != "string":
            raise self.fail(f"expected a quoted string, found {self.describe()}")
        value_token = self.advance()
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = re.compile(value_token.text)
            except re.error as error:
                raise self.fail(
                    f"invalid regular expression {value_token.text!r}: {error}",
                    value_token.at,
                ) from error
        return Matcher(label, op, value_token.text, pattern)


def parse_expression(expression: str) -> Expr:
    """Parse a PromQL expression of the supported subset into a syntax tree.

    Raises:
        QueryError: The text is not valid PromQL (the message shows where), or is
            nested too deeply.
        UnsupportedQueryError: Valid PromQL outside the subset (the message names the
            construct).
    """
    try:
        return _Parser(expression).parse()
    except RecursionError:
        # The parser descends once per nesting level; Python's stack bounds the depth.
        raise QueryError(
            "the expression is nested too deeply", expression=expression, position=0
        ) from None
