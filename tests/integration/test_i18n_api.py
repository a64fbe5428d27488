"""Errors in the caller's language through the gateway: Chinese for `Accept-Language: zh-CN`
(what the web console sends), English otherwise; the field names and codes stay the same."""
import uuid

import requests

from support.hub import client_body

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def both(send):
    """The answer to `send(headers)` in Chinese and without a language asked for."""
    return send(ZH), send({})


def test_a_422_names_its_fields_in_chinese_or_english(hub):
    api = hub.client()
    body = client_body()
    body["id_number"] = body["id_number"][:-1] + ("0" if body["id_number"][-1] != "0" else "1")
    del body["consent"]["date"]
    zh, en = both(lambda headers: api.post("/clients", json=body, headers=headers))
    assert zh.status_code == en.status_code == 422
    assert zh.headers["Vary"] == en.headers["Vary"] == "Accept-Language"     # for any cache
    zh, en = zh.json()["error"], en.json()["error"]
    assert zh["code"] == en["code"] == "validation_failed"
    assert zh["message"] == "部分字段填写有误。"
    assert en["message"] == "Some fields are not valid."
    assert zh["fields"] == {"id_number": ["校验码不符（是否输错？）"],
                            "consent": {"date": ["必填项未填写。"]}}
    assert en["fields"] == {"id_number": ["check character does not match (mistyped?)"],
                            "consent": {"date": ["Missing data for required field."]}}


def test_a_rule_with_values_keeps_them_in_chinese(hub):
    api = hub.client()
    child = client_body(age=40, categories=["left_behind_child"])
    zh = api.post("/clients", json=child, headers=ZH).json()["error"]
    assert zh["message"] == "所填类别与此人情况不符。"
    assert zh["fields"]["categories"] == ["left_behind_child 类别须未满 18 周岁（现年 40 岁）"]


def test_a_404_in_chinese_or_english(hub):
    api = hub.client()
    missing = f"/clients/{uuid.uuid4()}"
    zh, en = both(lambda headers: api.get(missing, headers=headers))
    assert zh.status_code == en.status_code == 404
    assert zh.json()["error"]["message"] == "找不到该服务对象。"
    assert en.json()["error"]["message"] == "No such client."
    # answered by the gateway itself, and by the service's web server (no route)
    zh, en = both(lambda headers: api.get("/nowhere", headers=headers))
    assert zh.json()["error"]["message"] == "本接口没有 /api/v1/nowhere；请查看 /api/v1/openapi.json。"
    assert en.json()["error"]["message"].startswith("There is no /api/v1/nowhere in this API")
    zh, en = both(lambda headers: api.get("/clients/not-an-id", headers=headers))
    assert zh.status_code == en.status_code == 404
    assert zh.json()["error"]["message"] == "此路径下没有内容；请查看 /api/v1/openapi.json。"
    assert en.json()["error"]["message"] == "Nothing is at this path; see /api/v1/openapi.json."


def test_a_401_in_chinese_or_english(hub):
    url = hub.client().base_url + "/clients"
    zh, en = both(lambda headers: requests.get(url, headers=headers, timeout=10))
    assert zh.status_code == en.status_code == 401
    assert zh.json()["error"]["message"] == "请发送“Authorization: Bearer <令牌>”；令牌请向平台管理员申请。"
    assert en.json()["error"]["message"].startswith("Send 'Authorization: Bearer <token>'")
    zh = requests.get(url, headers={**ZH, "Authorization": "Bearer not-a-token"}, timeout=10)
    assert (zh.status_code, zh.json()["error"]["message"]) == (401, "令牌对本平台无效。")


def test_errors_before_the_handler_in_chinese(hub):
    api = hub.client()
    bad_json = api.post("/clients", data=b"{not json", headers={
        **ZH, "Content-Type": "application/json"}).json()["error"]
    assert bad_json == {"code": "bad_request", "message": "请求内容不是有效的 JSON。",
                        "fields": {"body": ["不是有效的 JSON"]}}
    nul = api.post("/clients", json={**client_body(), "name": "a\x00b"}, headers=ZH).json()
    assert nul["error"]["fields"] == {"name": ["不能含有 NUL 字符（\\u0000）"]}
    english = api.post("/clients", json={**client_body(), "name": "a\x00b"}).json()
    assert english["error"]["fields"] == {"name": ["must not contain the NUL character (\\u0000)"]}
    for path in ("/clients", "/health"):        # a service's route, and the gateway's own
        not_allowed = api.delete(path, headers=ZH)
        assert not_allowed.status_code == 405 and "Allow" in not_allowed.headers
        assert not_allowed.json()["error"]["message"] == (
            "此路径不支持该请求方法；Allow 响应头列出了支持的方法。")
    too_large = api.post("/clients", data=b"{" + b" " * 1_000_001 + b"}", headers={
        **ZH, "Content-Type": "application/json"})
    assert too_large.status_code == 413
    assert too_large.json()["error"]["message"] == "请求内容超过 1000000 字节。"


def test_english_when_asked_for_it_first(hub):
    api = hub.client()
    answer = api.get(f"/clients/{uuid.uuid4()}",
                     headers={"Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.5"})
    assert answer.json()["error"]["message"] == "No such client."
