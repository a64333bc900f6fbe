"""Boilerplate removal for scraped news text, driven by a table of rules.

Rules are data (`RULES`) so that each one can be read, tested and extended
on its own. They are deliberately conservative: every pattern must match a
*whole* line (or a prefix/suffix glued to one, for the two cases seen in
real scrapes), so an article sentence that merely mentions "read more" or
"comments" is never touched. Losing a sentence of the article is worse than
keeping a line of boilerplate.

`clean_text` never removes the headline from the text; it only reports it as
`Cleaned.title` (and drops a verbatim repeat of it). Whether the headline is
then cut from the body is the caller's decision (see `qa.ingest`); this keeps
`clean_text` idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from itertools import islice
from typing import Literal

RuleKind = Literal["drop_line", "strip_prefix", "strip_suffix", "drop_tail_from", "dateline", "wire_dateline"]


@dataclass(frozen=True)
class Rule:
    """One boilerplate pattern.

    kind:
      drop_line       the whole (stripped) line matches: remove the line.
      strip_prefix    the line starts with the match: remove the match, keep
                      the rest (widget text glued to the first word).
      strip_suffix    the last line ends with the match, glued right after
                      the final sentence: remove the match.
      drop_tail_from  the whole line matches: remove it and everything after
                      it (comment/related-post widgets), but only if that
                      tail is no longer than the text before it; otherwise
                      just the line goes.
      dateline        the whole line is "source - weekday, date" near the
                      top: parse it into source/date and remove it.
      wire_dateline   a line near the top starts with a wire dateline,
                      "PLACE (Agency) -" or "PLACE, Month Day (Agency) -":
                      parse it into place/source (and date, when it has a
                      year) and remove the prefix, keeping the sentence.
    """

    name: str
    pattern: re.Pattern[str]
    kind: RuleKind


def _rule(name: str, pattern: str, kind: RuleKind, flags: int = re.IGNORECASE) -> Rule:
    return Rule(name, re.compile(pattern, flags), kind)


_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\.?"
# A wire place: capitals ("BRUSSELS", "NEW YORK", "ST. PAUL"), optionally ", Region" ("KABUL, Afghanistan").
_PLACE = (
    r"(?P<place>[A-Z][A-Z.'’-]+(?: [A-Z][A-Z.'’-]+){0,3})(?:,\s+(?P<region>(?!"
    + _MONTH
    + r"\s)[A-Z][a-z]+(?: [A-Z][a-z]+)?))?"
)
# The agency in brackets: one to three capitalised words ("Reuters", "AP", "AFP", "Thomson Reuters").
_AGENCY = r"\((?P<source>[A-Z][\w&.]*(?: [A-Z][\w&.]*){0,2})\)"
_DASH = r"\s+[-–—]{1,2}\s+"

RULES: tuple[Rule, ...] = (
    _rule("newsletter_signup", r"Sign up for (?:our |the )?(?:daily |weekly )?newsletters?[.!]?", "drop_line"),
    _rule("manage_newsletters", r"Manage (?:your )?newsletters?", "drop_line"),
    _rule(
        "copyright",
        # needs the © sign or "All rights reserved": "Copyright 2020 was..." may be a sentence
        r"(?:Copyright\s*)?(?:©|\(c\)|&copy;)\s*\d{4}\b.{0,200}|Copyright\s+\d{4}\b.{0,200}All rights reserved\.?",
        "drop_line",
    ),
    _rule("comment_policy", r"Please read our comment policy before commenting\.?", "drop_line"),
    _rule("view_comments", r"Click to Read More and View Comments", "drop_line"),
    _rule("click_to_hide", r"Click to Hide(?![a-z])\s*", "strip_prefix", 0),
    _rule(
        "email_not_published",
        r"Your email address will not be published\.?(?:\s*Required fields are marked \*)?",
        "drop_line",
    ),
    _rule("comments_closed", r"Comments are closed\.?", "drop_line"),
    # Glued to the last sentence ("...Afghanistan.Comments are closed."): only
    # right after sentence-final punctuation, case-sensitive.
    _rule("comments_closed_glued", r"(?<=[.!?\"'”’)])Comments are closed\.?", "strip_suffix", 0),
    _rule("read_more_link", r"(?:Read (?:more|also)|Also read|See also)\s*:\s*\S.{0,250}", "drop_line"),
    _rule(
        "related_posts",
        r"(?:Related (?:Posts|Articles|Stories|News)|You (?:may|might) also like)\s*:?",
        "drop_tail_from",
    ),
    _rule("leave_a_reply", r"Leave a (?:Reply|Comment)", "drop_tail_from"),
    _rule(
        "dateline",
        r"(?:[-–—]\s*)?(?P<source>[^-–—\s][^-–—]{0,79}?)\s+[-–—]\s+"
        + _WEEKDAY
        + r"(?P<date>[A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+\d{4})",
        "dateline",
        0,
    ),
    _rule("wire_dateline", _PLACE + r"\s+" + _AGENCY + _DASH, "wire_dateline", 0),
    _rule(
        "wire_dateline_dated",
        _PLACE + r",\s+(?P<date>" + _MONTH + r"\s+\d{1,2}(?:,\s+\d{4})?)\s+" + _AGENCY + _DASH,
        "wire_dateline",
        0,
    ),
)

# A dateline is only looked for among the first few lines of content.
_DATELINE_WINDOW = 3
_MAX_TITLE_CHARS = 200
_MAX_TITLE_WORDS = 25
_CLOSERS = "\"'”’»)]"


@dataclass(frozen=True)
class Cleaned:
    text: str
    title: str | None
    source: str | None
    date: str | None
    removed: tuple[tuple[str, str], ...]  # (rule name, removed text)
    place: str | None = None  # where a wire dateline says the story was filed ("Brussels")


def _combine(kinds: set[str], rules: tuple[Rule, ...]) -> tuple[re.Pattern[str], dict[str, Rule]]:
    """One alternation per kind: a single regex call per line keeps 20k articles fast."""
    chosen = [r for r in rules if r.kind in kinds]
    parts = []
    for i, r in enumerate(chosen):
        body = f"(?i:{r.pattern.pattern})" if r.pattern.flags & re.IGNORECASE else r.pattern.pattern
        parts.append(f"(?P<r{i}>{body})")
    by_group = {f"r{i}": r for i, r in enumerate(chosen)}
    return re.compile("|".join(parts)), by_group


_WHOLE_LINE, _WHOLE_LINE_RULES = _combine({"drop_line", "drop_tail_from"}, RULES)
_PREFIX, _PREFIX_RULES = _combine({"strip_prefix"}, RULES)
_SUFFIX = tuple(
    (r, re.compile(f"(?:{r.pattern.pattern})$", r.pattern.flags)) for r in RULES if r.kind == "strip_suffix"
)
_DATELINE_RULES = tuple(r for r in RULES if r.kind == "dateline")
_WIRE_RULES = tuple(r for r in RULES if r.kind == "wire_dateline")
_MANY_NEWLINES = re.compile(r"\n{3,}")

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T\s])")
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%b. %d, %Y", "%d %B %Y", "%d %b %Y", "%B %d %Y", "%Y/%m/%d")
_WEEKDAY_PREFIX = re.compile(_WEEKDAY)


def normalize_date(value: str | None) -> str | None:
    """ISO "YYYY-MM-DD" for the common news date spellings, None if unsure.

    Ambiguous numeric forms such as 03/04/2020 are deliberately not guessed.
    """
    if not value:
        return None
    s = " ".join(value.split())
    m = _ISO.match(s)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            return None
    bare = s[_WEEKDAY_PREFIX.match(s).end() :]  # type: ignore[union-attr]  # always matches
    bare = bare.replace("Sept.", "Sep.").replace("Sept ", "Sep ")  # AP style, unknown to strptime
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(bare, fmt).date().isoformat()
        except ValueError:
            pass
    try:  # RFC 2822, e.g. "Wed, 21 Oct 2020 10:00:00 GMT"
        return parsedate_to_datetime(s).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def is_headline(line: str) -> bool:
    """Short, has a letter, and does not end like a sentence or a clause."""
    s = line.strip()
    if not s or len(s) > _MAX_TITLE_CHARS or len(s.split()) > _MAX_TITLE_WORDS:
        return False
    core = s.rstrip(_CLOSERS)
    return bool(core) and core[-1] not in ".,;:" and any(c.isalpha() for c in s)


def clean_text(raw: str) -> Cleaned:
    """Remove boilerplate lines, parse a dateline, find the headline, tidy whitespace."""
    removed: list[tuple[str, str]] = []
    source: str | None = None
    found_date: str | None = None
    place: str | None = None
    kept: list[str] = []
    content_lines = 0  # non-empty lines kept so far (dateline window)
    kept_chars = 0
    first = ""  # first content line: a verbatim repeat right after it is dropped
    repeated = False
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    for i, line in enumerate(lines):
        line = line.rstrip()
        stripped = line.strip()
        if not stripped:
            kept.append("")
            continue
        m = _PREFIX.match(stripped)
        while m and m.end() > 0:  # repeated glued widgets: strip them all
            removed.append((_PREFIX_RULES[m.lastgroup].name, m.group().strip()))  # type: ignore[index]
            stripped = stripped[m.end() :]
            line = stripped
            m = _PREFIX.match(stripped) if stripped else None
        if not stripped:
            continue
        m = _WHOLE_LINE.fullmatch(stripped)
        if m:
            rule = _WHOLE_LINE_RULES[m.lastgroup]  # type: ignore[index]
            if rule.kind == "drop_tail_from":
                tail = "\n".join(lines[i + 1 :]).strip()
                if len(tail) <= kept_chars:
                    removed.append((rule.name, "\n".join([stripped, tail]).strip()))
                    break
            removed.append((rule.name, stripped))
            continue
        if content_lines == 1 and stripped == first and is_headline(first):
            removed.append(("repeated_title", stripped))
            kept.append("")  # keeps "title, blank line, body" shape for the next cleaning
            repeated = True
            continue
        if content_lines < _DATELINE_WINDOW:
            dm = next((d for r in _DATELINE_RULES if (d := r.pattern.fullmatch(stripped))), None)
            parsed = normalize_date(dm["date"]) if dm else None
            if dm and parsed:
                if source is None:  # the first dateline wins
                    source, found_date = dm["source"].strip(), parsed
                removed.append(("dateline", stripped))
                continue
            wm = None if place else next((w for r in _WIRE_RULES if (w := r.pattern.match(stripped))), None)
            if wm and wm.end() < len(stripped):  # a dateline glued to the story's first sentence
                place = _place(wm)
                source = source or wm["source"]
                found_date = found_date or (normalize_date(wm["date"]) if "date" in wm.re.groupindex else None)
                removed.append((_WIRE_NAMES[wm.re], wm.group().strip()))
                stripped = line = stripped[wm.end() :]
        kept.append(line)
        content_lines += 1
        kept_chars += len(stripped)
        first = first or stripped

    _strip_glued_suffix(kept, removed)
    title = _find_title(kept, repeated)
    text = "\n".join(kept)
    if "\n\n\n" in text:  # the regex scan is slow; most texts need no collapsing
        text = _MANY_NEWLINES.sub("\n\n", text)
    text = text.strip()
    return Cleaned(text, title, source, found_date, tuple(removed), place)


_WIRE_NAMES = {r.pattern: r.name for r in _WIRE_RULES}


def _place(m: re.Match[str]) -> str:
    """ "NEW YORK" -> "New York"; a region is kept as written ("Kabul, Afghanistan")."""
    city = " ".join(w[:1] + w[1:].lower() for w in m["place"].split())
    return f"{city}, {m['region']}" if m["region"] else city


def _strip_glued_suffix(kept: list[str], removed: list[tuple[str, str]]) -> None:
    """Suffix rules apply to the last content line only (widgets end the page).

    What is left of that line is checked against the whole-line rules again,
    so that a second cleaning finds nothing more to remove.
    """
    changed = False
    while True:
        last = next((j for j in range(len(kept) - 1, -1, -1) if kept[j].strip()), None)
        if last is None:
            return
        line = kept[last]
        hit = next(((r, m) for r, p in _SUFFIX if (m := p.search(line)) and m.start() > 0), None)
        if hit:
            removed.append((hit[0].name, hit[1].group()))
            kept[last] = line[: hit[1].start()].rstrip()
            changed = True
            continue
        whole = _WHOLE_LINE.fullmatch(line.strip()) if changed else None
        if not whole:
            return
        removed.append((_WHOLE_LINE_RULES[whole.lastgroup].name, line.strip()))  # type: ignore[index]
        kept[last] = ""


def lead_title(text: str, limit: int = 80) -> str | None:
    """A short title for an article without a headline: its first line if that is headline-shaped,
    else its first sentence, cut at a word boundary to about `limit` characters (with "…")."""
    from .segment import sentence_spans  # blingfire: only when a title has to be made

    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    if not first:
        return None
    if is_headline(first) and len(first) <= limit:
        return first
    spans = sentence_spans(first)
    # A lead "sentence" of a word or two ("AFGHANISTAN.") is a label: read on to a real sentence.
    end = next((b for _, b in spans if len(first[:b].split()) >= 5), len(first))
    lead = first[:end]
    if len(lead) <= limit:
        return lead
    cut = lead[: limit + 1].rsplit(" ", 1)[0] if " " in lead[:limit] else lead[:limit]
    return cut.rstrip(" ,;:–—-") + "…"


def _find_title(kept: list[str], repeated: bool) -> str | None:
    """The first line, if it is headline-shaped and was repeated or is followed by a blank line."""
    idx = list(islice((j for j, s in enumerate(kept) if s.strip()), 2))
    if len(idx) < 2 or not is_headline(kept[idx[0]]):
        return None
    if repeated or idx[1] > idx[0] + 1:
        return kept[idx[0]].strip()
    return None
