"""OSC address patterns (*, ?, [a-z], [!a-z], {a,b}) matched in time linear in the pattern, whatever a sender
writes.

Why not python-osc's matching: it turns the sender's pattern into a regular expression, and re backtracks;
one short packet of many '*' held the OSC thread (and, through the GIL, the frame loop) for minutes. Here a
pattern is cut at '/', each part read once into tokens, and matched against each known address part by
stepping a set of positions through the tokens (no backtracking). Patterns are capped in length and the
answers cached, so a packet costs microseconds.
"""

from __future__ import annotations

from functools import lru_cache

MAX_PATTERN = 256  # characters; our longest address is under 40

_STAR, _ANY, _SET, _ALT, _CHAR, _LEAST = range(6)


class PatternError(ValueError):
    pass


def matching(pattern: str, addresses: tuple[str, ...]) -> list[str]:
    """The addresses (in their order) that the OSC address pattern matches; PatternError if it is malformed
    or longer than MAX_PATTERN characters."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"address pattern of {len(pattern)} characters (at most {MAX_PATTERN})")
    return list(_matching(pattern, addresses))


@lru_cache(maxsize=512)
def _matching(pattern: str, addresses: tuple[str, ...]) -> tuple[str, ...]:
    parts = [_tokens(part) for part in pattern.split("/")]
    found, verdicts = [], {}  # (depth, name) -> whether that part matches: '/audio/...' is tried once
    for address, names in zip(addresses, _split(addresses)):
        if len(names) != len(parts):
            continue
        for depth, (tokens, name) in enumerate(zip(parts, names)):
            key = (depth, name)
            if key not in verdicts:
                verdicts[key] = _match(tokens, name)
            if not verdicts[key]:
                break
        else:
            found.append(address)
    return tuple(found)


@lru_cache(maxsize=8)
def _split(addresses: tuple[str, ...]) -> tuple[list[str], ...]:
    return tuple(address.split("/") for address in addresses)


@lru_cache(maxsize=1024)
def _tokens(part: str) -> tuple[tuple, ...]:
    """One part of a pattern as (kind, value) tokens; runs of '*' collapse into one. The last token is
    (_LEAST, the fewest characters the part matches)."""
    tokens, i = [], 0
    while i < len(part):
        c = part[i]
        if c == "*":
            if not tokens or tokens[-1][0] != _STAR:
                tokens.append((_STAR, None))
        elif c == "?":
            tokens.append((_ANY, None))
        elif c == "[":
            end = part.find("]", i + 1)
            if end < 0:
                raise PatternError("'[' without ']'")
            body, negate = part[i + 1:end], False
            if body.startswith("!"):
                body, negate = body[1:], True
            spans, j = [], 0  # (first, last) code points: '[\x00-\U0010ffff]' must not become a million
            while j < len(body):
                if j + 2 < len(body) and body[j + 1] == "-":
                    spans.append((ord(body[j]), ord(body[j + 2])))
                    j += 3
                else:
                    spans.append((ord(body[j]), ord(body[j])))
                    j += 1
            tokens.append((_SET, (tuple(spans), negate)))
            i = end
        elif c == "{":
            end = part.find("}", i + 1)
            if end < 0:
                raise PatternError("'{' without '}'")
            tokens.append((_ALT, tuple(set(part[i + 1:end].split(",")))))
            i = end
        elif c in "]}":
            raise PatternError(f"{c!r} without its opening")
        else:
            tokens.append((_CHAR, c))
        i += 1
    least = sum(0 if kind == _STAR else min(map(len, value)) if kind == _ALT else 1 for kind, value in tokens)
    return tuple(tokens) + ((_LEAST, least),)


def _within(char: str, spans) -> bool:
    code = ord(char)
    return any(first <= code <= last for first, last in spans)


def _match(tokens: tuple[tuple, ...], name: str) -> bool:
    """Whether the tokens match all of `name`: the set of positions reachable after each token, O(tokens *
    len(name) * alternatives)."""
    if tokens[-1][1] > len(name):
        return False  # also what keeps '?*?*?*...' from costing anything
    end = len(name)
    positions = {0}
    for kind, value in tokens[:-1]:
        if kind == _STAR:
            positions = set(range(min(positions), end + 1))
        elif kind == _CHAR:
            positions = {p + 1 for p in positions if p < end and name[p] == value}
        elif kind == _ANY:
            positions = {p + 1 for p in positions if p < end}
        elif kind == _SET:
            spans, negate = value
            positions = {p + 1 for p in positions if p < end and _within(name[p], spans) != negate}
        else:
            positions = {p + len(alt) for p in positions for alt in value if name.startswith(alt, p)}
        if not positions:
            return False
    return end in positions
