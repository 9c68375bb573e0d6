"""Where the platform may call out to (common/destinations.py), webhooks and identity providers; resolver given as a dict."""
import ipaddress

import pytest
from hypothesis import given, settings, strategies as st

from common import destinations
from common.destinations import Policy, Refused, check, is_public

DNS = {
    "portal.seu.edu.cn": ["202.119.32.7"],
    "localhost": ["127.0.0.1", "::1"],
    "loopback.example.com": ["127.0.0.1"],
    "mixed.example.com": ["202.119.32.7", "10.0.0.5"],  # one private answer is enough to refuse
    "v6.example.com": ["2001:da8:1002::7"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
    "xn--fiqs8s.example.com": ["202.119.32.8"],  # 中国.example.com
    "intranet.seu.edu.cn": ["10.8.0.2"],
}
NOBODY = Policy()


def resolve(host, port):
    return DNS.get(host, [])


def code_of(url, policy=NOBODY):
    with pytest.raises(Refused) as refused:
        check(url, policy, resolve)
    error = refused.value
    assert error.status == 422 and error.field == "url" and error.expected == destinations.EXPECTED
    assert error.message and not error.message.isascii()  # Chinese, for the portal's developer
    return error.code


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.255.254", "::1", "0.0.0.0", "::", "10.0.0.1", "10.255.255.255", "172.16.0.1",
    "172.31.255.255", "192.168.0.1", "169.254.169.254", "fc00::1", "fdff:ffff::1", "fe80::1", "febf::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::7f00:1",
    "64:ff9b::a00:1", "2002:7f00:1::1", "2002:a00:1::", "100.64.0.1", "224.0.0.1", "239.255.255.250",
    "ff02::1", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1", "2001:db8::1", "fec0::1",
])
def test_non_public_addresses(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["202.119.32.7", "8.8.8.8", "2001:da8:1002::7", "2400:3200::1",
                                     "2002:808:808::1"])
def test_public_addresses(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url, code", [
    ("http://127.0.0.1/hook", "webhook_destination_not_public"),
    ("http://127.0.0.1:5672/", "webhook_destination_not_public"),
    ("http://[::1]/", "webhook_destination_not_public"),
    ("http://0.0.0.0:8002/api/v1/messages", "webhook_destination_not_public"),
    ("http://10.0.0.1/", "webhook_destination_not_public"),
    ("http://172.16.5.4/", "webhook_destination_not_public"),
    ("http://192.168.1.1/", "webhook_destination_not_public"),
    ("http://169.254.169.254/latest/meta-data/", "webhook_destination_not_public"),
    ("http://[fc00::1]/", "webhook_destination_not_public"),
    ("http://[fe80::1]/", "webhook_destination_not_public"),
    ("http://[::ffff:127.0.0.1]/", "webhook_destination_not_public"),
    ("http://[::ffff:7f00:1]/", "webhook_destination_not_public"),
    ("http://localhost/", "webhook_destination_not_public"),
    ("http://LOCALHOST./", "webhook_destination_not_public"),
    ("http://loopback.example.com/", "webhook_destination_not_public"),
    ("http://mixed.example.com/", "webhook_destination_not_public"),
    ("http://mapped.example.com/", "webhook_destination_not_public"),
    ("http://2130706433/", "webhook_ip_form_refused"),
    ("http://0177.0.0.1/", "webhook_ip_form_refused"),
    ("http://0x7f.0.0.1/", "webhook_ip_form_refused"),
    ("http://0x7f000001/", "webhook_ip_form_refused"),
    ("http://127.1/", "webhook_ip_form_refused"),
    ("http://127.000.000.001/", "webhook_ip_form_refused"),
    ("http://user:pass@portal.seu.edu.cn/", "webhook_userinfo_refused"),
    ("http://portal.seu.edu.cn@127.0.0.1/", "webhook_userinfo_refused"),
    ("http://@portal.seu.edu.cn/", "webhook_userinfo_refused"),
    ("http://portal.seu.edu.cn:22/", "webhook_port_refused"),
    ("https://portal.seu.edu.cn:6379/", "webhook_port_refused"),
    ("http://unknown.example.com/", "webhook_host_unresolved"),
    ("ftp://portal.seu.edu.cn/", "invalid_url"),
    ("file:///etc/passwd", "invalid_url"),
    ("gopher://portal.seu.edu.cn:70/", "invalid_url"),
    ("http:///hook", "invalid_url"),
    ("http://portal.seu.edu.cn\\@127.0.0.1/", "invalid_url"),
    ("http://portal.seu.edu.cn /", "invalid_url"),
    ("http://portal.seu.edu.cn:99999/", "invalid_url"),
    ("http://[fe80::1%25eth0]/", "webhook_destination_not_public"),
])
def test_every_class_of_bad_destination_is_refused_with_its_code(url, code):
    assert code_of(url) == code


def test_public_receivers_are_let_through_and_pinned_to_the_checked_addresses():
    target = check("https://portal.seu.edu.cn/hooks/siyige?v=1", NOBODY, resolve)
    assert (target.scheme, target.host, target.port, target.path) == ("https", "portal.seu.edu.cn", 443,
                                                                        "/hooks/siyige?v=1")
    assert target.addresses == ("202.119.32.7",) and target.host_header == "portal.seu.edu.cn"
    assert check("http://v6.example.com:8080/", NOBODY, resolve).host_header == "v6.example.com:8080"
    assert check("http://中国.example.com/", NOBODY, resolve).addresses == ("202.119.32.8",)
    assert check("http://202.119.32.7:8443/", NOBODY, resolve).addresses == ("202.119.32.7",)


def test_the_allow_list_lets_through_what_it_names_and_nothing_else():
    policy = Policy.from_setting(" intranet.seu.edu.cn, 127.0.0.5 ,192.168.10.0/24,[fd00::1]")
    assert check("http://intranet.seu.edu.cn:9000/h", policy, resolve).addresses == ("10.8.0.2",)
    assert check("http://127.0.0.5:38211/h", policy, resolve).port == 38211  # any port when listed
    assert check("http://192.168.10.77/h", policy, resolve).addresses == ("192.168.10.77",)
    assert check("http://[fd00::1]:8000/", policy, resolve).host_header == "[fd00::1]:8000"
    assert code_of("http://127.0.0.1:38211/h", policy) == "webhook_destination_not_public"
    assert code_of("http://192.168.11.1/", policy) == "webhook_destination_not_public"
    assert code_of("http://localhost/", policy) == "webhook_destination_not_public"
    assert code_of("http://user:pw@intranet.seu.edu.cn/", policy) == "webhook_userinfo_refused"
    # a public host is still held to the public ports
    assert code_of("http://portal.seu.edu.cn:22/", policy) == "webhook_port_refused"


def test_a_name_that_turns_private_is_refused_when_checked_again():
    answers = {"portal.seu.edu.cn": ["202.119.32.7"]}
    url = "http://portal.seu.edu.cn/hook"
    assert check(url, NOBODY, lambda h, p: answers.get(h, [])).addresses == ("202.119.32.7",)
    answers["portal.seu.edu.cn"] = ["127.0.0.1"]
    with pytest.raises(Refused) as refused:
        check(url, NOBODY, lambda h, p: answers.get(h, []))
    assert refused.value.code == "webhook_destination_not_public"
    assert "127.0.0.1" not in refused.value.message  # what an internal name resolves to is not read out


def test_the_destination_key_groups_one_receiver():
    key = destinations.destination_key
    assert key("https://Portal.SEU.edu.cn/a") == key("https://portal.seu.edu.cn:443/b") == "portal.seu.edu.cn:443"
    assert key("http://portal.seu.edu.cn/") != key("http://portal.seu.edu.cn:8080/")
    assert key("ftp://x") == "invalid"


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_is_either_a_checked_public_target_or_refused(text):
    try:
        target = check(text, NOBODY, resolve)
    except Refused as refused:
        assert refused.code and refused.message
    else:
        assert all(is_public(ipaddress.ip_address(a)) for a in target.addresses)


def test_localhost_through_the_systems_resolver_is_refused():
    with pytest.raises(Refused) as refused:
        check("http://localhost:8002/api/v1/messages", NOBODY, destinations.system_resolver)
    assert refused.value.code == "webhook_destination_not_public"
