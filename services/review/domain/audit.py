"""What intake's audit log (审计日志) is told of a change made on review's pages: who, what, to which object.

The log stays in one place, intake's, append-only. Review announces each change with `review_audited` in the
change's own transaction (its outbox), and intake appends the row to the log of the round's tenant, once.

Who acts, as the row names them:
  a person handed on from intake      account:<id> (<name>), the words of intake's own rows for them
  an admin signed in with a key       key (单位密钥), with the key's SHA-256 beside it. Review keeps only the hash
                                      (api_key_issued carries no prefix); intake holds the key's row and names it
                                      key:<prefix> (<label>), as the key's changes through the API are named.
  a reviewer by an e-mailed link      reviewer:<reviewer_id> (<name>). The round's admins see their reviewers'
                                      names already, and only the round's tenant reads its log: blind review hides
                                      the authors from the reviewers, not the reviewers from their own university.
  review's hourly reminders           service:review

A row keeps ids, counts, names and a score's total; never a comment or a work's text.
Pure: no framework.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

KEY = "key (单位密钥)"
SERVICE = "service:review"
MAX_ACTOR = 200  # the audit log's column

# What a score's save is, as its log row says it (domain/scoring.py decides `ScoreSave.action`).
SCORE_ACTIONS = {"draft": "score.saved", "submit": "score.submitted", "change": "score.changed"}


@dataclass(frozen=True)
class Acting:
    """Who changes review's data, and from which client address (None for review's own timer)."""

    actor: str
    address: str | None = None
    key_hash: str | None = None  # an admin signed in with a key: intake names the key from it


BY_REVIEW = Acting(SERVICE)


def acting(visitor: dict, address: str | None) -> Acting:
    """The visitor of a request (their web session) as the log names them."""
    role = visitor.get("role")
    if role == "person":  # handed on from intake (operations/people.py's PERSON)
        return Acting(f"account:{visitor['account_id']} ({visitor.get('name') or ''})"[:MAX_ACTOR], address)
    if role == "reviewer":
        return Acting(f"reviewer:{visitor['reviewer_id']} ({visitor.get('name') or ''})"[:MAX_ACTOR], address)
    if role == "admin":  # a session opened before keys' hashes were kept in it has none: the key stays unnamed
        return Acting(KEY, address, visitor.get("key_hash") or None)
    raise ValueError(f"no actor for a web session of role {role!r}")


def short(text: Any, limit: int = 60) -> str | None:
    """A name or a reason as a row keeps it: enough to recognise, never a whole text."""
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_data(round_id: str, tenant: str, round_title: str, by: Acting, action: str, object_type: str,
               object_id: str | None, detail: dict, at: datetime) -> dict:
    """`review_audited`'s data. The round is named in every row: as the object's name when the round is the
    object, else beside the object (intake adds the round's id)."""
    named = {"title": short(round_title, 120)} if object_type == "round" else {"round_title": short(round_title, 120)}
    data = {"round_id": round_id, "tenant": tenant, "actor": by.actor[:MAX_ACTOR], "action": action,
            "object_type": object_type, "object_id": object_id, "detail": {**named, **detail},
            "address": by.address[:64] if by.address else None, "at": at.isoformat()}
    if by.key_hash:
        data["key_hash"] = by.key_hash
    return data
