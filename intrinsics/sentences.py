"""Offline sentence splitting, tagging and un-tagging.

IBM's reference splits sentences with NLTK's *untrained* ``PunktSentenceTokenizer()``:
no abbreviation list, no collocations, no learned sentence starters.  Without those
parameters Punkt reduces to a handful of rules, which this module re-implements with
regular expressions, so no NLTK and no data download is needed at run time.  The
rules (for a candidate ``.``, ``?`` or ``!`` followed by whitespace or punctuation):

- ``?``, ``!`` and a bare ``.`` token end a sentence;
- a word ending in ``.`` ends a sentence, except
  - an ellipsis (``...``) never does;
  - a number (``1923.``) or an initial (``J.``) followed by a lower-case word or by
    ``; : , . ! ?`` does not;
  - an initial followed by a capitalised word does not (``J. Bach``);
- closing quotes/brackets right after the break move to the sentence before it.

Since nothing is learned, ``U.S. companies`` splits after ``U.S.`` exactly as the
reference does; matching the reference matters more here than linguistic finesse,
because the adapters were trained on, and the canned vectors were made with, its splits.
"""

from __future__ import annotations

import re

__all__ = ["split_sentences", "mark_sentences", "delimiter", "unmark_sentences"]

# Character classes as in Punkt's English language variables (NLTK >= 3.9, which also
# treats curly quotes and guillemets as closing punctuation).
_QUOTES = "\u2018\u2019\u201c\u201d\xab\xbb"
_NON_WORD = rf"(?:[)\";}}\]\*:@\'\({{\[{_QUOTES}?!])"
_WORD_START = r"[^\(\"\`{\[:;&\#\*@\)}\]\-,]"
_MULTI_CHAR = r"(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)"

# Splits one line into Punkt word tokens: punctuation other than '.' is split off.
_WORD_RE = re.compile(
    rf"""(
        {_MULTI_CHAR}
        |
        (?={_WORD_START})\S+?
        (?=\s|$|{_NON_WORD}|{_MULTI_CHAR}|,(?=$|\s|{_NON_WORD}|{_MULTI_CHAR}))
        |
        \S
    )""",
    re.UNICODE | re.VERBOSE,
)
# A potential sentence end and what follows it.
_CANDIDATE_RE = re.compile(rf"[.?!](?=(?P<after>{_NON_WORD}|\s+(?P<next>\S+)))", re.UNICODE)
_REALIGN_RE = re.compile(rf"[\"\')\]}}{_QUOTES}]+?(?:\s+|(?=--)|$)", re.MULTILINE)
_ELLIPSIS_RE = re.compile(r"\.\.+$")
_NUMBER_RE = re.compile(r"^-?[\.,]?\d[\d,\.-]*\.?$")
_INITIAL_RE = re.compile(r"[^\W\d]\.$", re.UNICODE)
_NOT_SENTENCE_STARTERS = frozenset(";:,.!?")
_WHITESPACE = frozenset(" \t\n\r\x0b\x0c")


def _ends_sentence(token: str, following: str) -> bool:
    """Whether ``token`` ends a sentence when ``following`` comes next (untrained Punkt)."""
    if token in (".", "?", "!"):
        return True
    if _ELLIPSIS_RE.match(token) or not token.endswith(".") or token.endswith(".."):
        return False
    initial = _INITIAL_RE.match(token) is not None
    if initial or _NUMBER_RE.match(token.lower()):
        # Orthographic heuristic with no statistics: only "lower case" and
        # "punctuation" are informative, both meaning "not a sentence start".
        if following in _NOT_SENTENCE_STARTERS or following[0].islower():
            return False
        if initial and following[0].isupper():
            return False
    return True


def _context_has_break(context: str) -> bool:
    """Whether any token but the last in ``context`` ends a sentence."""
    tokens: list[str] = []
    for line in context.split("\n"):
        if line.strip():
            tokens.extend(_WORD_RE.findall(line))
    return any(_ends_sentence(tokens[i], tokens[i + 1]) for i in range(len(tokens) - 1))


def _last_whitespace(text: str) -> int:
    for i in range(len(text) - 1, -1, -1):
        if text[i] in _WHITESPACE:
            return i
    return 0


def _candidates(text: str):
    """Yield (match, context) for each potential break, merging runs like ``!!!``.

    The context is the word before the mark, the mark, and what follows; when two
    marks share a word (no whitespace between them) only the last one is kept.
    """
    prev_start, prev_stop, prev_match = 0, 0, None
    for match in _CANDIDATE_RE.finditer(text):
        space = _last_whitespace(text[prev_stop : match.start()])
        start = space + prev_stop + 1 if space else prev_start
        if prev_match is not None and prev_stop <= start:
            yield prev_match, text[prev_start:prev_stop] + prev_match.group() + prev_match.group("after")
        prev_start, prev_stop, prev_match = start, match.start(), match
    if prev_match is not None:
        yield prev_match, text[prev_start:prev_stop] + prev_match.group() + prev_match.group("after")


def _raw_spans(text: str):
    last = 0
    for match, context in _candidates(text):
        if _context_has_break(context):
            yield last, match.end()
            last = match.start("next") if match.group("next") else match.end()
    yield last, len(text.rstrip())


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences the way the reference's untrained Punkt does.

    Whitespace between sentences is dropped; an empty text has no sentences.
    """
    spans = list(_raw_spans(text))
    sentences = []
    shift = 0
    for i, (start, stop) in enumerate(spans):
        start += shift
        shift = 0
        if i + 1 < len(spans):
            next_start = spans[i + 1][0]
            closing = _REALIGN_RE.match(text, next_start)
            if closing:
                # Closing quotes/brackets after the mark belong to this sentence.
                stop = next_start + len(closing.group(0).rstrip())
                shift = closing.end() - next_start
        if start < stop:
            sentences.append(text[start:stop])
    return sentences


def delimiter(tag: str, number: int) -> str:
    """The marker put before sentence ``number``: ``<tagN>`` plus a space."""
    return f"<{tag}{number}> "


def mark_sentences(texts: list[str], tag: str, first: int = 0) -> tuple[list[str], int]:
    """Tag every sentence of every text with ``<tagN> ``, numbering across texts.

    Sentences of one text are re-joined with single spaces, as the reference does.

    :returns: the tagged texts and the next unused sentence number
    """
    number = first
    out = []
    for text in texts:
        parts = []
        for sentence in split_sentences(text):
            parts.append(delimiter(tag, number) + sentence)
            number += 1
        out.append(" ".join(parts))
    return out, number


def unmark_sentences(tagged: str, tag: str, first: int) -> list[tuple[int, int, str]] | None:
    """Recover ``(begin, end, text)`` of each sentence from a tagged text.

    Offsets are into the text with the markers removed (text before the first marker
    does not count), which is what the reference reports.

    :returns: the sentences, or ``None`` if the text has no marker numbered ``first``
    """
    marker = delimiter(tag, first)
    found = tagged.find(marker)
    if found == -1:
        return None
    sentences = []
    number = first
    begin = 0
    cursor = found + len(marker)
    while True:
        marker = delimiter(tag, number + 1)
        found = tagged.find(marker, cursor)
        if found == -1:
            sentences.append((begin, begin + len(tagged) - cursor, tagged[cursor:]))
            return sentences
        sentences.append((begin, begin + found - cursor, tagged[cursor:found]))
        begin += found - cursor
        cursor = found + len(marker)
        number += 1
