"""PII masking: passports, INNs and (where configured) phone numbers.

Masked values keep a hint so that a person can still tell two values apart
in a log or the journal: the first two and the last two digits of an INN or a
passport, the country and operator code and the last four digits of a phone::

    7701234567      -> 77******67
    4509 123456     -> 45** ****56
    +79161234567    -> +7916***4567

Three entry points:

* :func:`mask_payload` masks values of keys named like ``passport`` or ``inn``
  at any depth of a payload (a copy; the input is never changed);
  :class:`PayloadMask` does the same for one configuration and tells, without
  copying, whether it would change anything;
* :func:`mask_text` masks INN-like and passport-like numbers in free text;
* :class:`PiiMaskingFilter`, installed on the root logger's handlers by
  :func:`install_log_masking`, applies :func:`mask_text` to every log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

__all__ = [
    "DEFAULT_MASKED_FIELDS",
    "DEFAULT_PHONE_FIELDS",
    "PayloadMask",
    "PiiMaskingFilter",
    "install_log_masking",
    "mask_digits",
    "mask_payload",
    "mask_phone",
    "mask_text",
    "uninstall_log_masking",
]

DEFAULT_MASKED_FIELDS: tuple[str, ...] = ("passport", "inn", "passport_series", "passport_number")
DEFAULT_PHONE_FIELDS: tuple[str, ...] = ("phone", "caller", "called", "e164", "msisdn", "mobile")

_TOKEN = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _tokens(name: str) -> tuple[str, ...]:
    """``passportNumber``, ``passport-number``, ``PASSPORT_NUMBER`` -> ``(passport, number)``."""
    return tuple(token.lower() for token in _TOKEN.findall(name))


def _contains(tokens: tuple[str, ...], names: tuple[tuple[str, ...], ...]) -> bool:
    """True when the tokens of one configured name appear, in order, within the key's tokens."""
    for name in names:
        width = len(name)
        for start in range(len(tokens) - width + 1):
            if tokens[start : start + width] == name:
                return True
    return False


_PLAIN, _PII, _PHONE_NUMBER = 0, 1, 2
_SCALARS = frozenset((str, int, float, bool, type(None)))


class _Rules:
    """Which keys are PII or phones, for one configuration; verdicts are remembered per key."""

    __slots__ = ("_names", "_phones", "_verdicts")

    def __init__(self, fields: tuple[str, ...], phone_fields: tuple[str, ...]) -> None:
        self._names = tuple(_tokens(name) for name in fields)
        self._phones = tuple(_tokens(name) for name in phone_fields)
        self._verdicts: dict[str, int] = {}

    def verdict(self, key: str) -> int:
        verdict = self._verdicts.get(key)
        if verdict is None:
            tokens = _tokens(key)
            if _contains(tokens, self._names):
                verdict = _PII
            elif self._phones and _contains(tokens, self._phones):
                verdict = _PHONE_NUMBER
            else:
                verdict = _PLAIN
            if len(self._verdicts) < 10_000:
                self._verdicts[key] = verdict
        return verdict


@lru_cache(maxsize=64)
def _rules(fields: tuple[str, ...], phone_fields: tuple[str, ...]) -> _Rules:
    return _Rules(fields, phone_fields)


def mask_digits(value: str, *, letters: bool = True) -> str:
    """Mask digits (and letters, unless ``letters`` is false), keeping separators and a hint.

    Eight or more significant characters keep two at each end; five to seven
    keep one; fewer are masked entirely.
    """
    significant_char = str.isalnum if letters else str.isdigit
    chars = list(value)
    positions = [i for i, char in enumerate(chars) if significant_char(char)]
    count = len(positions)
    keep = 2 if count >= 8 else 1 if count >= 5 else 0
    for i in positions[keep : count - keep]:
        chars[i] = "*"
    return "".join(chars)


def _mask_number(value: str) -> str:
    return mask_digits(value, letters=False)


def mask_phone(value: str) -> str:
    """``+79161234567`` -> ``+7916***4567``: the first four and last four digits stay."""
    chars = list(value)
    positions = [i for i, char in enumerate(chars) if char.isdigit()]
    if len(positions) < 9:
        return mask_digits(value)
    for i in positions[4:-4]:
        chars[i] = "*"
    return "".join(chars)


def _mask_leaf(value: Any, masker: Callable[[str], str]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return {key: _mask_leaf(item, masker) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_leaf(item, masker) for item in value]
    return masker(str(value))


def mask_payload(
    obj: Any,
    fields: Iterable[str] = DEFAULT_MASKED_FIELDS,
    *,
    mask_phones: bool = False,
    phone_fields: Iterable[str] = DEFAULT_PHONE_FIELDS,
    scan_text: bool = False,
) -> Any:
    """A copy of ``obj`` with the values of PII keys masked, at any depth.

    A key matches a configured name when the name's words appear in it in
    order: ``passport`` matches ``passport``, ``passportNumber`` and
    ``customer_passport``; ``inn`` matches ``INN`` and ``client_inn`` but not
    ``dinner``. A matched value that is itself an object or a list has every
    leaf masked. With ``scan_text`` every other string goes through
    :func:`mask_text` as well (free-text comments).
    """
    rules = _rules(tuple(fields), tuple(phone_fields) if mask_phones else ())
    return _walk(obj, rules, scan_text, mask_phones)


class PayloadMask:
    """:func:`mask_payload` (no ``scan_text``) for one configuration, its rules resolved once;
    :meth:`needed` is false (allocating nothing) when masking would return an equal copy."""

    __slots__ = ("_mask_phones", "_rules")

    def __init__(self, fields: Iterable[str] = DEFAULT_MASKED_FIELDS, *, mask_phones: bool = False,
                 phone_fields: Iterable[str] = DEFAULT_PHONE_FIELDS) -> None:
        self._rules = _rules(tuple(fields), tuple(phone_fields) if mask_phones else ())
        self._mask_phones = mask_phones

    def __call__(self, obj: Any) -> Any:
        return _walk(obj, self._rules, False, self._mask_phones)

    def needed(self, obj: Any) -> bool:
        return _has_pii(obj, self._rules)


def _has_pii(obj: Any, rules: _Rules) -> bool:
    kind = type(obj)
    if kind is dict:
        verdict = rules.verdict
        for key, value in obj.items():
            if verdict(key if type(key) is str else str(key)) or (
                    type(value) not in _SCALARS and _has_pii(value, rules)):
                return True
        return False
    if kind is list or kind is tuple:
        return any(type(item) not in _SCALARS and _has_pii(item, rules) for item in obj)
    return isinstance(obj, Mapping | list | tuple)  # subclasses: let mask_payload copy them


def _walk(obj: Any, rules: _Rules, scan_text: bool, mask_phones: bool) -> Any:
    kind = type(obj)
    if kind in _SCALARS:
        if scan_text and kind is str:
            return mask_text(obj, mask_phones=mask_phones)
        return obj
    if kind is dict or isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            verdict = rules.verdict(key if type(key) is str else str(key))
            if verdict == _PLAIN:
                out[key] = _walk(value, rules, scan_text, mask_phones)
            else:
                out[key] = _mask_leaf(value, mask_digits if verdict == _PII else mask_phone)
        return out
    if kind is list or isinstance(obj, list | tuple):
        return [_walk(item, rules, scan_text, mask_phones) for item in obj]
    return obj


# Free text. Order matters: passports in context, spaced passports, phones, bare INNs.
_LEFT = r"(?<![0-9A-Za-z_+.*])"
_RIGHT = r"(?![0-9A-Za-z_*]|\.\d)"
_SERIES = r"(?:сер\w*\.?|series)"  # noqa: RUF001 - Russian "серия" (series)
_PASSPORT_IN_CONTEXT = re.compile(
    r"(?P<lead>(?:паспорт\w*|passport\w*|" + _SERIES + r")\s*[:=]?\s*" + _SERIES + r"?\s*)"
    r"(?P<value>\d{2}\s?\d{2}\s*[,;]?\s*(?:(?:номер|number|№|no\.?|n)\s*[:=]?\s*)?\d{6})"
    + _RIGHT,
    re.IGNORECASE,
)
_PASSPORT = re.compile(_LEFT + r"\d{2}[ \u00a0]?\d{2}[ \u00a0\-]*№?[ \u00a0]*\d{6}" + _RIGHT)
_INN = re.compile(_LEFT + r"(?:\d{12}|\d{10})" + _RIGHT)
_PHONE = re.compile(
    r"(?<![0-9A-Za-z_*])(?:\+7|\+?8|7)[\s\-]*\(?\d{3}\)?[\s\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}"
    + _RIGHT
    + r"|(?<![0-9A-Za-z_*])\+\d{10,15}"
    + _RIGHT
)
_DIGIT_RUN = re.compile(r"\d{4}")


def mask_text(text: str, *, mask_phones: bool = False) -> str:
    """Mask INN-like (10 or 12 digits) and passport-like numbers in free text.

    Passports are found as ``4509 123456``, ``45 09 123456``, ``4509-123456``,
    ``4509 №123456`` and after words such as "паспорт", "серия ... номер";
    ``4509123456`` is caught as INN-like anyway. With ``mask_phones`` Russian
    and ``+``-prefixed international numbers are masked too. Any bare 10- or
    12-digit number is treated as an INN: masking too much beats leaking.
    """
    if not mask_phones and _DIGIT_RUN.search(text) is None:
        return text
    text = _PASSPORT_IN_CONTEXT.sub(
        lambda match: match["lead"] + _mask_number(match["value"]), text
    )
    text = _PASSPORT.sub(lambda match: _mask_number(match[0]), text)
    if mask_phones:
        text = _PHONE.sub(lambda match: mask_phone(match[0]), text)
    return _INN.sub(lambda match: _mask_number(match[0]), text)


class PiiMaskingFilter(logging.Filter):
    """Masks PII in a record's message, arguments, traceback and stack before it is emitted.

    The message is formatted with its arguments first (``record.args`` is then
    cleared), so that a passport passed as ``%s`` is masked as well.
    """

    def __init__(self, *, mask_phones: bool = False) -> None:
        super().__init__()
        self.mask_phones = mask_phones

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: mask what there is
            message = f"{record.msg} {record.args!r}"
        record.msg = mask_text(message, mask_phones=self.mask_phones)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text, mask_phones=self.mask_phones)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info, mask_phones=self.mask_phones)
        return True


def install_log_masking(
    *, mask_phones: bool = False, logger: logging.Logger | None = None
) -> PiiMaskingFilter:
    """Put one :class:`PiiMaskingFilter` on every handler of the root logger.

    Idempotent: a handler that already has a masking filter keeps it. Handlers
    added later are not covered; call again after adding one.
    """
    target = logger if logger is not None else logging.getLogger()
    mask = PiiMaskingFilter(mask_phones=mask_phones)
    for handler in target.handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(mask)
    return mask


def uninstall_log_masking(logger: logging.Logger | None = None) -> None:
    """Remove masking filters from the root logger's handlers (tests, reconfiguration)."""
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        for existing in [f for f in handler.filters if isinstance(f, PiiMaskingFilter)]:
            handler.removeFilter(existing)
