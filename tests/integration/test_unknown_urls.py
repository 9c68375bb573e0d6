"""Issue #17 item 17: a URL no service serves is answered in Chinese, on every service.

A browser (Accept: text/html first) gets a Chinese HTML page; an API client (requests' `*/*`, or
application/json) gets the JSON error envelope every other error has. Not werkzeug's English page.
"""
import pytest
import requests

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SERVICES = {"intake": "services.intake.service:IntakeService", "media": "services.media.service:MediaService",
            "review": "services.review.service:ReviewService", "notify": "services.notify.service:NotifyService"}


@pytest.fixture(params=sorted(SERVICES))
def base(request, make_config, start_service, tmp_path):
    import importlib

    module, cls = SERVICES[request.param].split(":")
    (tmp_path / "data").mkdir(exist_ok=True)  # where the embedded default keeps mail, files and the web secret
    config = make_config(request.param, DATABASE_URL=f"sqlite:///{tmp_path / (request.param + '.db')}",
                         WEB_SECRET="test-secret")
    start_service(getattr(importlib.import_module(module), cls), config)
    return "http://" + config["WEB_SERVER_ADDRESS"]


def test_an_unknown_url_is_answered_in_chinese_for_a_browser_and_for_an_api_client(base):
    page = requests.get(f"{base}/no/such/page", headers=BROWSER, timeout=10)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
    assert '<html lang="zh-CN">' in page.text and "页面不存在" in page.text and "/no/such/page" in page.text
    assert "Not Found" not in page.text and page.headers["X-Frame-Options"] == "DENY"

    for headers in ({}, {"Accept": "application/json"}):
        api = requests.get(f"{base}/no/such/page", headers=headers, timeout=10)
        assert api.status_code == 404 and api.headers["Content-Type"].startswith("application/json")
        error = api.json()["error"]
        assert error["code"] == "route_not_found" and "没有这个地址" in error["message"]
        assert error["found"] == "GET /no/such/page"

    # the markup of a path is text on the page, never markup
    hostile = requests.get(f"{base}/<script>alert(1)</script>", headers=BROWSER, timeout=10)
    assert hostile.status_code == 404 and "<script>" not in hostile.text and "&lt;script&gt;" in hostile.text


def test_a_method_a_url_does_not_take_is_answered_in_chinese(base):
    api = requests.delete(f"{base}/health", timeout=10)
    assert api.status_code == 405 and "GET" in api.headers["Allow"]
    error = api.json()["error"]
    assert error["code"] == "method_not_allowed" and "不支持 DELETE" in error["message"] and "GET" in error["expected"]
    page = requests.delete(f"{base}/health", headers=BROWSER, timeout=10)
    assert page.status_code == 405 and "不能这样打开或提交" in page.text and "Method Not Allowed" not in page.text
