"""User-editable post templates: ``string.Template`` text with the facts of a result.

Why ``string.Template`` (``$streak``, ``${exercise}``) and not ``str.format``: a format
string can reach into its arguments (``{facts.__class__}``, ``{x[0]}``) and has a mini
language of its own; a Template only substitutes names, so a template from a config file
can do nothing but fill in facts, and ``$$`` is the one escape to learn. Every name is
checked when the config is read: an unknown one, or a stray ``$``, is one clear error that
names it, and that service stays off.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from repfit.host.posts.length import LengthRule

__all__ = ["DEFAULT_TEMPLATES", "FIELDS", "PostFacts", "PostTemplate", "TemplateError"]


@dataclass(frozen=True)
class PostFacts:
    """What a post may say, as text ready to print (empty when unknown).

    ``mode`` is "verified" (counted by the host from a wearable) or "honour mode"
    (self-reported); every post carries it.
    """

    exercise: str = ""
    done: str = ""
    reps: str = ""
    target: str = ""
    unit: str = ""
    hold_seconds: str = ""
    mode: str = "verified"
    outcome: str = ""
    reason: str = ""
    metric: str = ""
    metric_change: str = ""
    penalties: str = ""
    streak: str = ""
    today: str = ""
    caps: str = ""
    experiment: str = ""
    date: str = ""
    time: str = ""

    def fields(self) -> dict[str, str]:
        return asdict(self)


#: The names a template may use.
FIELDS: tuple[str, ...] = tuple(PostFacts.__dataclass_fields__)

#: Templates used when the config names none, per kind of post.
DEFAULT_TEMPLATES: Mapping[str, str] = {
    "set": "$outcome: $exercise $done ($mode). Streak: $streak days. $metric_change",
    "daily": "Today ($date): $today. Streak: $streak days. Penalties: $penalties ($mode).",
    "milestone": "$streak days in a row of verified workouts. Today: $today ($mode).",
    "test": "repfit test post: posting works ($mode).",
}


class TemplateError(ValueError):
    """A template that cannot be used; names the config key and the bad field or position."""


class PostTemplate:
    """A checked template. Raises `TemplateError` at construction, never when rendering.

    Parameters
    ----------
    source : str
        The template text.
    key : str
        Where it came from (``posts.x.template``), for messages.
    """

    def __init__(self, source: str, key: str) -> None:
        self.source = source
        self.key = key
        self._template = string.Template(source)
        used: list[str] = []
        for match in self._template.pattern.finditer(source):
            if match.group("invalid") is not None:
                at = match.start()  # the "$" itself
                line = source.count("\n", 0, at) + 1
                column = at - (source.rfind("\n", 0, at) + 1) + 1
                raise TemplateError(
                    f"{key}: a '$' at line {line}, column {column} starts no field "
                    f"(write $$ for a dollar sign; fields: {', '.join(FIELDS)})")
            name = match.group("named") or match.group("braced")
            if name is not None:
                if name not in FIELDS:
                    raise TemplateError(f"{key}: unknown field ${name} "
                                        f"(fields: {', '.join(FIELDS)})")
                used.append(name)
        self.fields = tuple(used)

    def render(self, facts: PostFacts, rule: LengthRule | None = None) -> str:
        """The post text: fields filled in, blank runs collapsed, cut to ``rule``'s limit.
        The verified / honour-mode label is always there: appended when the template does
        not place ``$mode`` itself, and never cut off."""
        text = self._template.substitute(facts.fields())
        text = "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()
        suffix = "" if "mode" in self.fields else f" [{facts.mode}]"
        if rule is None:
            return text + suffix
        fitted = rule.fit(text, suffix)
        if facts.mode not in fitted:
            fitted = rule.fit(text, f" [{facts.mode}]")
        return fitted
