"""The expert discussion's rules (domain/discussion.py): when a work has a thread, who reads and writes it, and how
experts are named to each other (blind) and to the admin; and the result mail with the experts' comments for the org."""
import pytest

from common.errors import DomainError
from services.review.domain import discussion
from services.review.domain.scoring import decide_score

RUBRIC = [{"key": "thought", "label": "思想性", "weight": 100, "max": 10}]


def test_experts_are_named_by_the_heavenly_stems_in_assignment_order_and_keep_their_label():
    assert discussion.blind_labels(["a3", "a1", "a2"]) == {"a3": "专家甲", "a1": "专家乙", "a2": "专家丙"}
    # a later assignment (a replacement after a decline) takes the next label; nobody else's changes
    assert discussion.blind_labels(["a3", "a1", "a2", "a9"])["a9"] == "专家丁"
    assert discussion.expert_label(9) == "专家癸" and discussion.expert_label(10) == "专家11"


def test_a_thread_opens_on_two_scores_flagged_or_by_the_admin_and_stays_once_begun():
    assert not discussion.is_open(1, True, False)  # one score disagrees with nothing
    assert not discussion.is_open(3, False, False)
    assert discussion.is_open(2, True, False)
    assert discussion.is_open(0, False, True)  # the admin opened it
    assert discussion.is_open(2, False, False, has_posts=True)  # a revised score ended the flag: what was said stays


def test_only_experts_on_the_work_and_the_rounds_admins_read_it():
    assert discussion.may_read("expert", "assigned")
    assert not discussion.may_read("expert", "declined") and not discussion.may_read("expert", "withdrawn")
    assert not discussion.may_read("expert", None)
    assert discussion.may_read("admin", administers=True) and not discussion.may_read("admin", administers=False)
    assert not discussion.may_read("reviewer", "assigned")
    with pytest.raises(DomainError) as refused:
        discussion.require_reader("expert", "declined")
    assert refused.value.status == 404


def test_a_message_needs_an_open_thread_an_open_round_and_at_most_1000_characters():
    assert discussion.check_post("open", True, "  分歧在感染力  ") == "分歧在感染力"
    for state, thread_open, body, code in (("open", False, "你好", "discussion_not_open"),
                                           ("closed", True, "你好", "discussion_closed"),
                                           ("selected", True, "你好", "discussion_closed"),
                                           ("open", True, "   ", "discussion_empty"),
                                           ("open", True, "字" * 1001, "discussion_too_long")):
        with pytest.raises(DomainError) as refused:
            discussion.check_post(state, thread_open, body)
        assert refused.value.code == code
    assert len(discussion.check_post("open", True, "字" * 1000)) == 1000


def test_experts_read_labels_and_管理员_the_admin_reads_names():
    posts = [discussion.Post("a1", None, "我给了高分", None), discussion.Post(None, "张老师", "请再看看", None),
             discussion.Post("a2", None, "同意", None)]
    labels = discussion.blind_labels(["a1", "a2"])
    blind = discussion.authors(posts, labels, None, mine="a2")
    assert [p["who"] for p in blind] == ["专家甲", "管理员", "专家乙（我）"]
    named = discussion.authors(posts, labels, {"a1": "王五", "a2": "赵六"})
    assert [p["who"] for p in named] == ["王五（专家甲）", "管理员（张老师）", "赵六（专家乙）"]


def test_the_comment_for_the_org_is_saved_apart_and_bounded():
    saved = decide_score("open", RUBRIC, {"mark_thought": "8", "comment": "保密", "comment_for_org": " 公开 "}, None,
                         submit=True)
    assert (saved.comment, saved.comment_for_org) == ("保密", "公开")
    with pytest.raises(DomainError) as refused:
        decide_score("open", RUBRIC, {"comment_for_org": "长" * 2001}, None, submit=False)
    assert refused.value.code == "comment_for_org_too_long"


def test_the_result_mail_carries_the_experts_comments_for_the_org_only_when_sent():
    from services.notify.mail import Templates

    base = {"contact": "东南大学党委组织部（zzb@seu.edu.cn）", "org_name": "计算机学院党委", "title": "战疫故事",
            "round_title": "战疫故事汇 · 校级评审", "rank": 2, "selected": True, "to_level_label": "教育部",
            "final": False, "ranked": True, "verdict": "", "outcome": ""}
    templates = Templates()
    sent = templates.render("selection_result", "seu", {**base, "comments_for_org": ["细节生动", "结构可再紧凑"]})
    assert "评审专家意见：\n1. 细节生动\n2. 结构可再紧凑\n" in sent.body
    assert "已入选，将报送教育部。" in sent.body
    for context in (base, {**base, "comments_for_org": []}):
        assert "评审专家意见" not in templates.render("selection_result", "seu", context).body
