"""Messages in the caller's language: English in the code, Chinese from a gettext catalogue.

`_("There is no client {client_id}.", client_id=...)` marks a message for `make messages`
(pybabel extract) and returns a `Message`: a str holding the English text, formatted, so it
works wherever a message did before; it keeps its msgid and params, so `translate(message,
"zh_CN")` can render it from services/hub/locale/zh_CN/LC_MESSAGES/messages.po (read at first
use, with babel). A plain str whose text is a msgid (marshmallow's own messages, a message that
crossed a process boundary as text) is translated too; any other text is left as it is.
`negotiate(accept_language)` picks the locale an Accept-Language header asks for.
"""
import functools
import re
from pathlib import Path

from babel.messages.pofile import read_po
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

ENGLISH = "en"
CHINESE = "zh_CN"
LOCALES = (ENGLISH, CHINESE)
LOCALE_DIR = Path(__file__).parent / "locale"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Message(str):
    """The English text of a message, formatted; `.msgid` and `.params` render it in others."""

    msgid: str
    params: dict

    def __new__(cls, msgid, **params):
        message = super().__new__(cls, msgid.format(**params) if params else msgid)
        message.msgid = msgid
        message.params = params
        return message

    def __reduce__(self):                       # pickled/copied as a Message, not a plain str
        return (_rebuild, (self.msgid, self.params))


def _rebuild(msgid, params):
    return Message(msgid, **params)


def _(msgid, **params):
    """The message `msgid` (English, `{name}` placeholders) formatted with `params`."""
    return Message(msgid, **params)


@functools.lru_cache(maxsize=None)
def catalogue(locale):
    """{msgid: translation} of `locale`'s catalogue (fuzzy and empty entries left out)."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    return {m.id: m.string for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


@functools.lru_cache(maxsize=None)
def _patterns(locale):
    """[(regex matching a formatted msgid, msgid)] for messages with placeholders, so text
    that lost its Message (sent between services as JSON) is still translated."""
    found = []
    for msgid in catalogue(locale):
        names = PLACEHOLDER.findall(msgid)
        if not names or len(set(names)) != len(names) or len(PLACEHOLDER.sub("", msgid)) < 8:
            continue                            # too little fixed text to tell it by
        parts = PLACEHOLDER.split(msgid)        # text, name, text, name, …, text
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                        for i, p in enumerate(parts))
        found.append((re.compile(f"^{regex}$", re.S), msgid))
    # the most fixed text first: "… of {county} ({county_code})" before "… of {county}"
    return sorted(found, key=lambda p: -len(PLACEHOLDER.sub("", p[1])))


def translate(text, locale):
    """`text` (a Message, or a str that is a known msgid) in `locale`; else `text` itself."""
    if locale not in LOCALES or locale == ENGLISH or not isinstance(text, str):
        return text
    translations = catalogue(locale)
    if isinstance(text, Message):
        msgid, params = text.msgid, text.params
    elif text in translations:
        msgid, params = text, {}
    else:
        for regex, msgid in _patterns(locale):
            match = regex.match(text)
            if match:
                params = match.groupdict()
                break
        else:
            return text
    translation = translations.get(msgid)
    if not translation:
        return text
    params = {k: translate(v, locale) for k, v in params.items()}
    try:
        return translation.format(**params) if params else translation
    except (KeyError, IndexError, ValueError):  # a broken translation: English rather than none
        return str(text)


def translate_all(value, locale):
    """`value`'s messages in `locale`, however nested in dicts and lists (field errors)."""
    if isinstance(value, dict):
        return {k: translate_all(v, locale) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [translate_all(v, locale) for v in value]
    return translate(value, locale)


def translate_error(error, locale):
    """An answer's `{"code", "message", "fields", …}` with its message and fields in `locale`."""
    return {**error, **translate_all({k: error[k] for k in ("message", "fields") if k in error},
                                     locale)}


def negotiate(accept_language, default=ENGLISH):
    """The locale an Accept-Language header asks for: "zh_CN" for any Chinese (zh, zh-CN,
    zh-Hans, …), "en" for English; q-values honoured, q=0 refuses; `default` otherwise."""
    if not accept_language:
        return default
    for tag, quality in parse_accept_header(accept_language, LanguageAccept):
        if quality <= 0:
            continue
        primary = tag.replace("_", "-").split("-")[0].lower()
        if primary == "zh":
            return CHINESE
        if primary == "en":
            return ENGLISH
        if primary == "*":
            return default
    return default
