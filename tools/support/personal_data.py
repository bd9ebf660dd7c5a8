"""Personal data in text and in named fields: what it looks like, and its masked form that says so."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

# A masked value: its shape, then why. The model reads "(masked: ...)" and does not guess the value.
LABEL = " (masked: {})"
MARK = "(masked: "

DOB = "date of birth"
PHONE = "phone number"
EMAIL = "e-mail address"
ID = "id number"
STREET = "street address"
NAME = "name"
SENSITIVE = "sensitive field"

_NOT_WORD = r"(?<![\w@+./-])"
_END = r"(?![\w@-])"

# Government ids: US SSN, Canadian SIN, passports (1-2 letters and 6-9 digits) and driver's licences
# (Ontario's A1234-12345-12345 form), and any number right after a word that names an id.
_IDS = re.compile(
    _NOT_WORD + r"(?:\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|\d{3}[ -]\d{3}[ -]\d{3}"
    r"|[A-Z]{1,2}\d{6,9}|[A-Z]\d{4}[- ]?\d{5}[- ]?\d{5})" + _END
)
_ID_AFTER_WORD = re.compile(
    r"\b(?i:ssn|sin|social (?:security|insurance)(?: number| no\.?)?|passport(?: number| no\.?)?"
    r"|driver'?s? licen[cs]e(?: number| no\.?)?|licen[cs]e (?:number|no\.?)|national id(?: number)?|id number)"
    r"(\s*[:#]?\s*)(\d[\d -]{3,20}\d|[A-Z]{1,3}\d[\dA-Z-]{3,18})(?![\w-])"
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    r"(?P<iso>\d{4})-\d{1,2}-\d{1,2}"
    r"|\d{1,2}[/.-]\d{1,2}[/.-](?P<dmy>\d{4})"
    r"|" + _MONTH + r" \d{1,2},? (?P<mdy>\d{4})"
    r"|\d{1,2} " + _MONTH + r",? (?P<dm>\d{4})"
)
_DATE_ONLY = re.compile(r"(?i)^\s*(?:" + _DATE + r")(?:[T ][0-9:.]+Z?)?\s*$")
_DOB_IN_TEXT = re.compile(
    r"(?i)\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|birthday|born(?: on)?)(\s*[:,]?\s*)(?:" + _DATE + r")"
)
_PHONES = re.compile(
    _NOT_WORD + r"(?:\+\d[\d ().-]{6,18}\d|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[ .-]\d{3}[ .-]\d{4})" + r"(?![\w@-])"
)
_PHONE_AFTER_WORD = re.compile(r"(?i)\b(?:phone|tel|mobile|cell|fax)\b(\.?\s*[:#]?\s*)(\+?\d[\d ().-]{5,18}\d)")
_EMAILS = re.compile(r"[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Not "Court", "Place" or "Way": legal text says "2019 District Court" far more often than it gives addresses.
_STREET_SUFFIX = (
    r"(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|crescent|cres|terrace|highway|hwy"
    r"|parkway|pkwy)"
)
# A house number, then up to four capitalised words and a street type ("2999 King St W"), or a street
# type first ("12 Rue Sainte-Catherine").
_STREETS = re.compile(
    r"\b\d{1,6}[A-Za-z]?,? (?:(?i:rue|chemin|avenue|boulevard|calle|via) [\w'.-]+(?: [A-Z][\w'.-]*){0,3}"
    r"|(?:[A-Z][\w'.-]* ){1,4}" + _STREET_SUFFIX + r"\b\.?(?: (?:N|S|E|W|NE|NW|SE|SW)\b)?)"
    r"(?:,? (?i:apt|unit|suite)\.? ?\w+)?"
)
_LINK = re.compile(r"https?://\S+")
_DIGIT = re.compile(r"\d")

# Field names that say what a value is, whatever the value looks like (case-insensitive, any separator).
_NAME_TOKENS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"phone", "mobile", "tel", "telephone", "fax", "cell", "msisdn"}), PHONE),
    (frozenset({"email", "mail"}), EMAIL),
    (frozenset({"ssn", "sin", "passport", "licence", "license", "nin", "national"}), ID),
    (frozenset({"street", "address", "addr"}), STREET),
)
_TOKENS = re.compile(r"[a-z]+")


def kind_of_field(name: str) -> str | None:
    """What a field called ``name`` holds when its name says so (``date_of_birth`` -> date of birth)."""
    tokens = set(_TOKENS.findall(name.lower().replace("email", " email ")))
    if tokens & {"dob", "birthdate", "birthday", "born", "dateofbirth"} or {"birth", "date"} <= tokens:
        return DOB
    for words, kind in _NAME_TOKENS:
        if tokens & words:
            return kind
    return None


def is_person_name_field(name: str) -> bool:
    tokens = _TOKENS.findall(name.lower())
    return bool(tokens) and ("name" in tokens or tokens[-1] in {"given", "surname"} or "head" in tokens)


def labelled(shape: str, why: str) -> str:
    return shape + LABEL.format(why)


def is_masked(value: str) -> bool:
    return MARK in value


def stars(text: str, keep_last: int = 0) -> str:
    """``text`` with its letters and digits starred, separators kept (all but the last ``keep_last`` digits)."""
    digits = len(_DIGIT.findall(text))
    out, seen = [], 0
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - keep_last else "*")
        else:
            out.append("*" if ch.isalnum() else ch)
    return "".join(out)


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    return labelled(f"{local[:1]}***@***.{tld}", EMAIL)


def mask_date_of_birth(value: str) -> str:
    """The year kept, the rest starred: ``1980-10-19`` -> ``1980-**-** (masked: date of birth)``."""
    match = _DATE_ONLY.match(value)
    if match is None:
        return labelled("***", DOB)
    year = next(y for y in match.group("iso", "dmy", "mdy", "dm") if y)
    if match.group("iso"):
        return labelled(f"{year}-**-**", DOB)
    if match.group("dmy"):
        return labelled(f"**/**/{year}", DOB)
    return labelled(f"** {year}", DOB)


def mask_street(value: str) -> str:
    """A street line starred; in ``street, city, region`` the city and region are kept."""
    head, sep, rest = value.partition(",")
    if sep and _DIGIT.search(head) and rest.strip():
        return labelled("***", STREET) + "," + rest
    return labelled("***", STREET)


def initials(name: str) -> str:
    letters = [w[0].upper() + "." for w in re.findall(r"[^\W\d_][\w'-]*", name)]
    return labelled(" ".join(letters) or "***", NAME)


def mask_as(kind: str, value: str) -> str:
    """``value`` masked as a ``kind`` (one of the kinds above), keeping what the policy keeps."""
    if is_masked(value):
        return value
    if kind == DOB:
        return mask_date_of_birth(value)
    if kind == PHONE:
        return labelled(stars(value.strip(), keep_last=2), PHONE) if _DIGIT.search(value) else labelled("***", PHONE)
    if kind == EMAIL:
        found = _EMAILS.search(value)
        return mask_email(found.group(0)) if found else labelled("***", EMAIL)
    if kind == STREET:
        return mask_street(value)
    if kind == NAME:
        return initials(value)
    if kind == ID:
        return labelled(stars(value.strip()) if len(value) <= 24 else "***", ID)
    return labelled("***", kind)


def mask_text(text: str, keep_emails: Collection[str] = ()) -> str:
    """Free text with every id number, date of birth, phone number, e-mail address and street line masked.

    Links are left whole (a masked link is a broken link; providers' links are checked elsewhere).
    ``keep_emails`` (lower case) stay as they are: the applicant's own address in a Certn case.
    """
    if not text or not _maybe_personal(text):
        return text
    if "://" not in text:
        return _mask_plain(text, keep_emails)
    parts, at = [], 0
    for link in _LINK.finditer(text):
        parts.append(_mask_plain(text[at : link.start()], keep_emails))
        parts.append(link.group(0))
        at = link.end()
    parts.append(_mask_plain(text[at:], keep_emails))
    return "".join(parts)


def _maybe_personal(text: str) -> bool:
    # Every pattern needs a digit or an "@": most text (titles, statuses) skips all the regexes.
    return "@" in text or _DIGIT.search(text) is not None


def _keep_or(replace: Callable[[re.Match[str]], str], keep: Collection[str]) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group(0) if m.group(0).lower() in keep else replace(m)


def _mask_plain(text: str, keep_emails: Collection[str]) -> str:
    if not _maybe_personal(text):
        return text
    text = _EMAILS.sub(_keep_or(lambda m: mask_email(m.group(0)), keep_emails), text)
    if not _DIGIT.search(text):
        return text
    text = _DOB_IN_TEXT.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + m.group(1) + _dob(m), text)
    text = _ID_AFTER_WORD.sub(lambda m: m.group(0)[: m.start(2) - m.start(0)] + labelled(stars(m.group(2)), ID), text)
    text = _IDS.sub(lambda m: labelled(stars(m.group(0)), ID), text)
    text = _PHONE_AFTER_WORD.sub(
        lambda m: m.group(0)[: m.start(2) - m.start(0)] + labelled(stars(m.group(2), 2), PHONE), text
    )
    text = _PHONES.sub(lambda m: labelled(stars(m.group(0), 2), PHONE), text)
    return _STREETS.sub(lambda m: labelled("***", STREET), text)


def _dob(match: re.Match[str]) -> str:
    return mask_date_of_birth(match.group(0)[match.end(1) - match.start(0) :])
