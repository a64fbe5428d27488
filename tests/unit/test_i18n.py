"""Messages in Chinese and English (hub.i18n): the catalogue covers every message in the code,
keeps its placeholders, and a caller's Accept-Language picks the language."""
import pickle
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from marshmallow import fields, validate

from hub.errors import NotFound, ValidationFailed
from hub.i18n import CHINESE, ENGLISH, Message, _, catalogue, negotiate, translate, translate_all
from hub.marshmallow_messages import MESSAGES

ROOT = Path(__file__).parents[2]


def code_messages():
    """The msgids `make messages` extracts: every _("…") in services/ (as babel.cfg maps)."""
    return {msgid for _file, _line, msgid, _comments, _context in extract_from_dir(
        ROOT / "services", method_map=[("**.py", "python")], keywords={"_": None})}


def placeholders(text):
    return sorted(name + (f"!{conversion}" if conversion else "")
                  for _lit, name, _spec, conversion in string.Formatter().parse(text)
                  if name is not None)


def test_every_message_in_the_code_has_a_chinese_translation_with_its_placeholders():
    messages = code_messages()
    assert len(messages) > 200 and "No such client." in messages
    zh = catalogue(CHINESE)
    untranslated = sorted(m for m in messages if not zh.get(m, "").strip())
    assert not untranslated, f"run `make messages` and translate in messages.po: {untranslated}"
    changed = {m: zh[m] for m in messages if placeholders(zh[m]) != placeholders(m)}
    assert not changed, f"translations with other placeholders than their msgid: {changed}"


def test_every_marshmallow_message_can_be_translated():
    """The installed marshmallow's own messages (as it fills them in) are all in MESSAGES."""
    texts = {m for cls in vars(fields).values() if isinstance(cls, type)
             for m in getattr(cls, "default_error_messages", {}).values()}
    texts |= {getattr(cls, a) for cls in vars(validate).values() if isinstance(cls, type)
              for a in dir(cls) if (a.startswith("message") or a == "default_message")
              and isinstance(getattr(cls, a), str)}
    ops = {"min": ("greater than or equal to", "greater than"),
           "max": ("less than or equal to", "less than")}
    resolved = set()
    for text in texts:
        if "{min_op}" in text or "{max_op}" in text:
            for lo in ops["min"]:
                for hi in ops["max"]:
                    resolved.add(text.format(min_op=lo, max_op=hi))
        elif text not in ("greater than", "greater than or equal to", "less than",
                          "less than or equal to"):
            resolved.add(text)
    assert not resolved - set(MESSAGES)
    for text in resolved:
        assert translate(text, CHINESE) != text, text


def test_a_message_is_its_english_text_and_renders_in_chinese():
    message = _("No such {what}.", what=_("donation"))
    assert message == "No such donation." and isinstance(message, str)
    assert message.msgid == "No such {what}." and message.params["what"] == "donation"
    assert translate(message, CHINESE) == "找不到该捐赠。"
    assert translate(message, ENGLISH) == "No such donation."
    assert pickle.loads(pickle.dumps(message)).params == message.params   # the import's reader


def test_plain_text_is_translated_when_it_is_a_message():
    assert translate("Missing data for required field.", CHINESE) == "必填项未填写。"
    assert translate("Must be one of: low, high.", CHINESE) == "须为以下之一：low, high。"
    assert translate("Longer than maximum length 50.", CHINESE) == "超过最大长度 50。"
    assert translate("王大明 lives here", CHINESE) == "王大明 lives here"      # not a message
    assert translate(_("Not in the catalogue {x}.", x=1), CHINESE) == "Not in the catalogue 1."
    assert translate(3, CHINESE) == 3


def test_nested_field_messages_are_translated():
    error = ValidationFailed(_("Some fields are not valid."), fields={
        "guardian": {"phone": ["Missing data for required field."]},
        "items": {0: {"kind": ["Not a valid string."]}}})
    body = error.body(CHINESE)["error"]
    assert body["message"] == "部分字段填写有误。"
    assert body["fields"] == {"guardian": {"phone": ["必填项未填写。"]},
                              "items": {0: {"kind": ["不是有效的文本。"]}}}
    assert error.body()["error"]["fields"]["guardian"]["phone"] == [
        "Missing data for required field."]
    assert NotFound(_("No such client.")).body(ENGLISH)["error"]["message"] == "No such client."
    assert translate_all(("a", ["closed"]), CHINESE) == ["a", ["已结案"]]


@pytest.mark.parametrize("header, locale", [
    ("zh-CN", CHINESE), ("zh", CHINESE), ("zh-Hans", CHINESE), ("zh-Hans-CN", CHINESE),
    ("zh_CN", CHINESE), ("ZH-cn", CHINESE), ("zh-TW", CHINESE),
    ("zh-CN,zh;q=0.9,en;q=0.8", CHINESE), ("en-US,en;q=0.9,zh-CN;q=0.8", ENGLISH),
    ("en;q=0.5,zh;q=0.8", CHINESE), ("fr-FR,zh;q=0.5", CHINESE), ("zh;q=0,en", ENGLISH),
    ("en", ENGLISH), ("fr", ENGLISH), ("*", ENGLISH), ("", ENGLISH), (None, ENGLISH),
    ("garbage;;q=x", ENGLISH),
])
def test_negotiate(header, locale):
    assert negotiate(header) == locale


def test_a_translation_that_breaks_falls_back_to_english(monkeypatch):
    monkeypatch.setitem(catalogue(CHINESE), "No such {what}.", "找不到该{thing}。")
    assert translate(_("No such {what}.", what="x"), CHINESE) == "No such x."
    assert isinstance(Message("plain"), str)
