"""The event catalogue: every event the platform publishes, in one place.

An event travels as a small JSON document, the *envelope*:

    {"event_id": "<uuid4 hex>", "type": "submission_submitted", "version": 1,
     "occurred_at": "2020-07-14T09:30:00+00:00", "tenant": "seu", "data": {...}}

`tenant` is the university's slug, or "ministry" for what the ministry does.
`data` carries ids and the few facts a consumer needs so that it never has to
call back. Each type's `data` has a JSON Schema here, checked when the event is
written to the outbox and again when a consumer receives it.

`subscribers` names the consuming handlers as "<service>.<method>". The queues
are derived from it and declared before anything is published (nameko
publishes with mandatory=False, so an event sent before its queue exists would
be dropped). A handler that is not listed here refuses to start.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from jsonschema import Draft202012Validator

from common.campaign.audience import CATEGORIES
from common.campaign.events import (
    CAMPAIGN_AUDIENCE_SCHEMA,
    CONTACTS_SCHEMA,
    NOTICE_SCHEMA,
    TRACKS_SCHEMA as CAMPAIGN_TRACKS,  # the format's own words for a published track
)
from common.campaign.model import DECISION_KINDS
from common.errors import InvalidInput

ID = {"type": "string", "minLength": 1, "maxLength": 64}
TENANT = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,62}$"}
LEVEL = {"enum": ["branch", "level2", "university", "ministry"]}
TRACK = {"type": "string", "pattern": "^[a-z_]{2,40}$"}
TIMESTAMP = {"type": "string", "format": "date-time"}
# Formats are only checked with a checker (RFC 3339 needs rfc3339-validator).
_FORMATS = Draft202012Validator.FORMAT_CHECKER


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict:
    props = dict(required)
    props.update(optional or {})
    return {
        "type": "object",
        "properties": props,
        "required": sorted(required),
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class EventType:
    name: str
    source: str
    version: int
    description: str
    data_schema: dict
    subscribers: tuple[str, ...] = ()
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_validator", Draft202012Validator(self.data_schema, format_checker=_FORMATS))

    @property
    def exchange(self) -> str:
        # nameko's convention: a service publishes on "<service>.events"
        return f"{self.source}.events"

    def queue_for(self, subscriber: str) -> str:
        # nameko's own naming for a SERVICE_POOL event handler queue
        service, method = subscriber.split(".", 1)
        return f"evt-{self.source}-{self.name}--{service}.{method}"

    def data_errors(self, data: Any) -> list[str]:
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(data)'}: {e.message}"
            for e in self._validator.iter_errors(data)
        ]


ENVELOPE_SCHEMA = _object(
    {
        "event_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "type": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "occurred_at": TIMESTAMP,
        "tenant": TENANT,
        "data": {"type": "object"},
    }
)
_envelope_validator = Draft202012Validator(ENVELOPE_SCHEMA, format_checker=_FORMATS)

# What review_audited may record: every change review's pages make, as intake's audit log names them
# (its ACTIONS carries a Chinese label for each; review's domain/audit.py says who does which).
REVIEW_AUDIT_ACTIONS = (
    "round.settings_changed", "reviewer.added", "reviewers.imported", "reviewer.removed", "assignments.planned",
    "assignment.added", "assignment.removed", "conflict.declared", "assignment.declined", "reviewers.invited",
    "score.saved", "score.submitted", "score.changed", "round.closed", "round.reopened", "round.selection_confirmed",
    "discussion.opened", "discussion.posted",
)

CATALOGUE: dict[str, EventType] = {
    e.name: e
    for e in [
        EventType(
            name="campaign_published",
            source="intake",
            version=1,
            description="A campaign definition (the ministry's, a university's own or derived copy, or a college's "
            "notice to its branches, `owner_org_id`) was published; carries the media policies and review rubrics "
            "consumers keep a copy of.",
            data_schema=_object(
                {
                    "campaign_id": ID,
                    "derives_from": {"type": ["string", "null"]},
                    "title": {"type": "string"},
                    # per track: label, department, media policy per file kind (rules on the facts media
                    # measures), rubric, deadlines per stage and level, submit levels, stage labels, fields
                    # (which are hidden from reviewers), quota and forward counts: common/campaign/events.py
                    "tracks": CAMPAIGN_TRACKS,
                },
                {
                    # a correction (issue #16): the campaign's version (1 when absent: every event before
                    # versions) and what changed; a copy that followed its parent says so in its note
                    "version": {"type": "integer", "minimum": 1},
                    "change_note": {"type": "string", "minLength": 1, "maxLength": 300},
                    # the announcement (issue #16; absent from early events: none of them): the short title the
                    # notice's attachment is named by, whom to ask, and the notice's own text
                    "short_title": {"type": "string", "minLength": 1},
                    "contacts": CONTACTS_SCHEMA,
                    "notice": NOTICE_SCHEMA,
                    # a college's notice to its branches (issue #16): the level-2 org that issued it; notify
                    # announces it to that org's subtree only (absent: the ministry's or a university's own)
                    "owner_org_id": ID,
                    # whom the campaign is for (issue #16; absent: every university, as in early events):
                    # {categories?: [direct, co_built, local], universities?: [tenant slug]}
                    "audience": CAMPAIGN_AUDIENCE_SCHEMA,
                },
            ),
            subscribers=("media.on_campaign_published", "review.on_campaign_published",
                         "notify.on_campaign_published"),
        ),
        EventType(
            name="tenant_registered",
            source="intake",
            version=1,
            description="A university (or the ministry) joined the platform, with the mailbox of its "
            "organisation department, which is told about addresses that cannot be reached, and its category "
            "(`direct` 教育部直属高校, `co_built` 部省合建高校, `local` 地方高校; null or absent: not registered), "
            "which decides whether it is in a campaign's audience. Sent again, whole, when an operator sets the "
            "category of a tenant already registered; notify replaces its copy.",
            data_schema=_object({"name": {"type": "string"}, "kind": {"enum": ["university", "ministry"]},
                                 "contact_email": {"type": ["string", "null"]}},
                                {"category": {"enum": [*CATEGORIES, None]}}),
            subscribers=("notify.on_tenant_registered",),
        ),
        EventType(
            name="account_invited",
            source="intake",
            version=1,
            description="A person was invited to the platform (by a university owner, or the ministry for its "
            "experts) and given roles; carries the single-use link where they set their password, which notify "
            "e-mails them.",
            data_schema=_object({
                "account_id": ID, "name": {"type": "string"}, "email": {"type": "string"},
                "tenant_name": {"type": "string"},  # who invites: 东南大学, 教育部思想政治工作司
                "invited_by": {"type": "string"},  # the inviting person's name, or the key's label
                "roles": {"type": "array", "items": {"type": "string"}},  # in Chinese, with their scope
                "accept_url": {"type": "string"}, "link_expires_at": TIMESTAMP,
            }),
            subscribers=("notify.on_account_invited",),
        ),
        EventType(
            name="account_link_requested",
            source="intake",
            version=1,
            description="A person asked for a single-use link by e-mail: to sign in without a password "
            "(`sign_in`, for experts) or to set a new password (`password_reset`); notify e-mails it. Sent only "
            "for an address that has an account that may use it; the form answers the same either way.",
            data_schema=_object({
                "account_id": ID, "name": {"type": "string"}, "email": {"type": "string"},
                "purpose": {"enum": ["sign_in", "password_reset"]},
                "url": {"type": "string"}, "link_expires_at": TIMESTAMP,
                "requested_from": {"type": ["string", "null"]},  # the address the form was sent from
            }),
            subscribers=("notify.on_account_link_requested",),
        ),
        EventType(
            name="account_sessions_ended",
            source="intake",
            version=1,
            description="A person's web sessions end: they signed out (`intake_session` names the one), or "
            "a grant was removed, the account disabled or its password changed (all of them). Review and notify "
            "end the sessions they opened from intake's tickets (common.handoff) at once.",
            data_schema=_object({
                "account_id": ID,
                "reason": {"enum": ["signed_out", "grant_removed", "disabled", "password_changed",
                                    "second_factor_changed"]},
            }, {"intake_session": {"type": ["string", "null"]}}),
            subscribers=("notify.on_account_sessions_ended", "review.on_account_sessions_ended"),
        ),
        EventType(
            name="api_key_issued",
            source="intake",
            version=1,
            description="An API key was issued; carries only its SHA-256, so services facing callers can "
            "authenticate without reading intake's tables, and its scopes (absent: every scope, a key from before "
            "scopes): notify takes keys with submit or read:feeds, review's pages keys with admin. A portal key limited "
            "to some orgs (each with its subtree) or tracks carries its reach (absent: the whole tenant); notify "
            "refuses it (403 key_reach). An expired key is revoked.",
            data_schema=_object({"key_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                 "tenant_kind": {"enum": ["university", "ministry"]},
                                 "tenant_name": {"type": "string"}},
                                {"scopes": {"type": "array", "items": {"enum": ["submit", "read:feeds", "admin", "publish"]}},
                                 "reach": _object({}, {
                                     "org_ids": {"type": "array", "minItems": 1, "maxItems": 200, "items": ID},
                                     "tracks": {"type": "array", "minItems": 1, "maxItems": 200, "items": TRACK}})}),
            subscribers=("notify.on_api_key_issued", "review.on_api_key_issued"),
        ),
        EventType(
            name="api_key_revoked",
            source="intake",
            version=1,
            description="An API key was revoked.",
            data_schema=_object({"key_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}),
            subscribers=("notify.on_api_key_revoked", "review.on_api_key_revoked"),
        ),
        EventType(
            name="orgs_imported",
            source="intake",
            version=1,
            description="A university's org tree changed (an import); carries every org with its contact, "
            "so consumers replace their copy.",
            data_schema=_object({
                "orgs": {"type": "array", "maxItems": 20000, "items": _object(
                    {"org_id": ID, "name": {"type": "string"}, "level": LEVEL},
                    {"parent_id": {"type": ["string", "null"]}, "contact_email": {"type": ["string", "null"]},
                     "short_name": {"type": ["string", "null"]}},
                )},
            }, {"tenant_name": {"type": "string"}}),
            subscribers=("notify.on_orgs_imported", "review.on_orgs_imported"),
        ),
        EventType(
            name="submission_submitted",
            source="intake",
            version=1,
            description="An org submitted a stage of a work before its deadline; a receipt number was issued.",
            data_schema=_object(
                {
                    "submission_id": ID,
                    "campaign_id": ID,
                    "track": TRACK,
                    "stage": {"type": "string"},
                    "final_stage": {"type": "boolean"},
                    "org_id": ID,
                    "org_name": {"type": "string"},
                    "org_level": LEVEL,
                    "title": {"type": "string"},
                    "receipt_no": {"type": "string"},
                    "submitted_at": TIMESTAMP,
                    "file_ids": {"type": "array", "items": ID},
                },
                {"contact_email": {"type": ["string", "null"]},
                 # the work's field values; review hides the identifying ones from reviewers
                 "fields": {"type": "object"},
                 "parent_org_id": {"type": ["string", "null"]}},
            ),
            subscribers=("review.on_submission_submitted", "notify.on_submission_submitted"),
        ),
        EventType(
            name="submission_withdrawn",
            source="intake",
            version=1,
            description="An org withdrew its work before the deadline.",
            data_schema=_object(
                {
                    "submission_id": ID,
                    "campaign_id": ID,
                    "track": TRACK,
                    "org_id": ID,
                    "withdrawn_at": TIMESTAMP,
                }
            ),
            subscribers=("review.on_submission_withdrawn", "notify.on_submission_withdrawn"),
        ),
        EventType(
            name="submission_reopened",
            source="intake",
            version=1,
            description="A file of a submitted stage was deleted, added or failed a newer check: the work went "
                        "back to before that stage, its receipt no longer holds, and it must be submitted again.",
            data_schema=_object(
                {
                    "submission_id": ID,
                    "campaign_id": ID,
                    "track": TRACK,
                    "org_id": ID,
                    "org_name": {"type": "string"},
                    "org_level": LEVEL,
                    "title": {"type": "string"},
                    # the last stage still submitted (null: a draft again) and every stage still submitted
                    "stage": {"type": ["string", "null"]},
                    "stages_submitted": {"type": "array", "items": {"type": "string"}},
                    "reopened_stage": {"type": "string"},
                    "reason": {"enum": ["file_deleted", "file_added", "file_check_failed"]},
                    "file_id": {"type": ["string", "null"]},
                    "voided_receipts": {"type": "array", "items": {"type": "string"}},
                    "reopened_at": TIMESTAMP,
                },
                {"message": {"type": "string"}, "contact_email": {"type": ["string", "null"]}},
            ),
            subscribers=("review.on_submission_reopened", "notify.on_submission_reopened"),
        ),
        EventType(
            name="file_uploaded",
            source="intake",
            version=1,
            description="A file's bytes are stored and their size and SHA-256 verified.",
            data_schema=_object(
                {
                    "file_id": ID,
                    "submission_id": ID,
                    "campaign_id": ID,
                    "track": TRACK,
                    "kind": {"enum": ["video", "image", "audio", "document", "subtitle"]},
                    "object_key": {"type": "string"},
                    "size": {"type": "integer", "minimum": 0},
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "content_type": {"type": "string"},
                    "original_name": {"type": "string"},
                    "org_id": ID,
                }
            ),
            subscribers=("media.on_file_uploaded", "notify.on_file_uploaded", "review.on_file_uploaded"),
        ),
        EventType(
            name="file_checked",
            source="media",
            version=1,
            description="The media service checked a file against its track's media policy.",
            data_schema=_object(
                {
                    "file_id": ID,
                    "submission_id": ID,
                    "verdict": {"enum": ["passed", "warnings", "failed"]},
                    "findings": {
                        "type": "array",
                        "items": _object(
                            {
                                "rule": {"type": "string"},
                                "severity": {"enum": ["error", "warning"]},
                                "message": {"type": "string"},
                            },
                            {"expected": {}, "actual": {}},
                        ),
                    },
                    "facts": {"type": "object"},
                    "checked_at": TIMESTAMP,
                },
                # object keys of the poster frame, contact sheet, playback copy, review copy
                {"derived": {"type": "object", "additionalProperties": {"type": "string"}}},
            ),
            subscribers=("intake.on_file_checked", "notify.on_file_checked", "review.on_file_checked"),
        ),
        EventType(
            name="reviewer_invited",
            source="review",
            version=1,
            description="A reviewer was given a single-use sign-in link to a round, with the number of works "
            "assigned to them; notify e-mails it.",
            data_schema=_object({
                "reviewer_id": ID, "round_id": ID, "name": {"type": "string"}, "email": {"type": "string"},
                "round_title": {"type": "string"}, "sign_in_url": {"type": "string"},
                "link_expires_at": TIMESTAMP, "assigned": {"type": "integer", "minimum": 0},
                "open": {"type": "integer", "minimum": 0},
            }, {"reminder": {"type": "boolean"}, "deadline": TIMESTAMP,
                # the round's campaign and track: the mail names whom to ask about them (notify.contact)
                "campaign_id": ID, "track": TRACK}),
            subscribers=("notify.on_reviewer_invited",),
        ),
        EventType(
            name="selection_made",
            source="review",
            version=1,
            description="A round's admin confirmed which works go on to the next level (择优报送), or, in the round "
            "where the track's decision says the selection ends, which works are the result (`to_level` null, with "
            "the `decision`: 入选, 表彰 by category, 公示, 入库, 审核通过); intake forwards them or records the "
            "result on each work, notify tells the orgs and fills the library.",
            data_schema=_object({
                "round_id": ID, "campaign_id": ID, "track": TRACK, "level": LEVEL,
                # None: final at `level` (the ministry's national selection, or the track's decision below it)
                "to_level": {"enum": ["level2", "university", "ministry", None]},
                "owner_org_id": {"type": ["string", "null"]},
                "selected": {"type": "array", "items": ID},
                "not_selected": {"type": "array", "items": ID},
                # per work: its tenant (the ministry's round spans universities), rank and score; in a final
                # round its award category (null without one), why it failed a vetting (审核不通过的原因), and for
                # a library its org and fields (the deciding level's library has no forwarded copy of a work
                # that never went up); the experts' comments for the org if the admin chose to send them
                "results": {"type": "array", "items": _object(
                    {"submission_id": ID, "tenant": TENANT, "rank": {"type": "integer"},
                     "selected": {"type": "boolean"}},
                    {"normalised": {"type": ["number", "null"]}, "title": {"type": "string"},
                     "category": {"type": ["string", "null"]}, "org_name": {"type": "string"},
                     "fields": {"type": "object"}, "reason": {"type": "string", "maxLength": 200},
                     # the experts' comments for the submitting org (给报送单位的意见), no names: only when the admin
                     # chose, on confirming, to send them with the results (absent otherwise)
                     "comments_for_org": {"type": "array", "items": {"type": "string", "maxLength": 2000}}})},
            }, {
                # a final round's decision (absent: the round forwarded, or an event from before decisions, whose
                # to_level null meant the ministry's selection); label: the result's name (表彰 title or kind)
                "decision": _object({"level": LEVEL, "kind": {"enum": list(DECISION_KINDS)},
                                     "label": {"type": "string", "minLength": 1}},
                                    {"publicity_days": {"type": "integer", "minimum": 1}}),
                # when the admin confirmed, by the platform's clock (the envelope's occurred_at is the wall clock):
                # intake judges the forwarding deadline by it, so a selection confirmed in time but delivered late
                # (a broker outage, a replay from the dead letters) still goes up; absent from older events
                "confirmed_at": TIMESTAMP,
            }),
            subscribers=("intake.on_selection_made", "notify.on_selection_made"),
        ),
        EventType(
            name="publicity_ended",
            source="review",
            version=1,
            description="The 公示期 of a confirmed publicity (a final round whose decision is `publicity`) is over: "
            "`publicity_days` Beijing calendar days from the day it was confirmed, through `until`; the published "
            "works' result stands. Sent by review's timer once per selection; notify tells each org whose work was "
            "published. Intake needs no event: it words a work's result from the clock (「公示期满，已入选」).",
            data_schema=_object({
                "round_id": ID, "campaign_id": ID, "track": TRACK, "level": LEVEL,
                "label": {"type": "string", "minLength": 1},  # the decision's name, as selection_made said it
                "publicity_days": {"type": "integer", "minimum": 1},
                "confirmed_at": TIMESTAMP,  # when the selection was confirmed, by the platform's clock
                "until": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},  # the period's last day (Beijing)
                "ended_at": TIMESTAMP,  # when review found it over (platform clock): from 00:00 the day after
                # the works that were published, in rank order (each university's own in the ministry's round)
                "works": {"type": "array", "items": _object(
                    {"submission_id": ID, "tenant": TENANT, "title": {"type": "string"}})},
            }),
            subscribers=("notify.on_publicity_ended",),
        ),
        EventType(
            name="review_audited",
            source="review",
            version=1,
            description="A change was made on review's pages (a round's settings, reviewers, assignments, conflicts, "
            "sign-in mails, a score saved or submitted, a work declined, scoring closed or reopened, the selection "
            "confirmed): who made it, from which address, to which object. Announced in the change's own transaction; "
            "intake appends it, once, to the audit log of the round's tenant. A key's admin is named by the key's "
            "SHA-256, which intake turns into the key's prefix and label.",
            data_schema=_object({
                "round_id": ID, "tenant": TENANT,  # the round's: the ministry's round is the ministry's log
                "actor": {"type": "string", "minLength": 1, "maxLength": 200},
                "action": {"enum": list(REVIEW_AUDIT_ACTIONS)},
                "object_type": {"enum": ["round", "reviewer", "assignment", "submission"]},
                "object_id": {"type": ["string", "null"], "maxLength": 64},
                "detail": {"type": "object"},  # ids, counts, names, a score's total: never a comment's text
                "address": {"type": ["string", "null"], "maxLength": 64},
                "at": TIMESTAMP,
            }, {"key_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}),
            subscribers=("intake.on_review_audited",),
        ),
        EventType(
            name="submission_forwarded",
            source="intake",
            version=1,
            description="A selected work was forwarded to the level above (a level-2 org to its university, a "
            "university to the ministry); it enters that level's review round and the ministry's feed.",
            data_schema=_object({
                "submission_id": ID, "campaign_id": ID, "track": TRACK, "org_id": ID, "org_name": {"type": "string"},
                "org_level": LEVEL, "from_level": LEVEL, "to_level": LEVEL, "title": {"type": "string"},
                "receipt_no": {"type": ["string", "null"]}, "forwarded_at": TIMESTAMP,
                "fields": {"type": "object"},
                "files": {"type": "array", "items": _object(
                    {"file_id": ID, "kind": {"type": "string"}, "object_key": {"type": "string"},
                     "size": {"type": "integer"}, "content_type": {"type": "string"}},
                    {"sha256": {"type": "string"}, "verdict": {"type": ["string", "null"]}})},
            }, {"tenant_name": {"type": "string"}, "root_campaign_id": ID}),
            subscribers=("review.on_submission_forwarded", "notify.on_submission_forwarded"),
        ),
        EventType(
            name="extension_granted",
            source="intake",
            version=1,
            description="A university's admin granted one org more time for one stage of a track "
            "(`POST /api/v1/extensions`), or changed the time granted: `until` is the org's deadline for that stage "
            "now. Notify tells the university's portal (webhook `extension_granted`).",
            data_schema=_object({
                "extension_id": ID, "campaign_id": ID, "track": TRACK, "stage": {"type": "string"},
                "org_id": ID, "org_name": {"type": "string"}, "until": TIMESTAMP,
                "reason": {"type": "string"}, "granted_at": TIMESTAMP,
            }, {"stage_label": {"type": "string"}, "org_level": LEVEL}),
            subscribers=("notify.on_extension_granted",),
        ),
        EventType(
            name="supervision_reminded",
            source="intake",
            version=1,
            description="A person chasing laggards (督查) reminded, in one action, every org of their scope that has "
            "not submitted a track's stage (from the ministry: every university that has forwarded nothing in the "
            "track); carries each recipient's contact, the stage it owes, its deadline and how late, and who asks. "
            "Notify mails each recipient once. Intake reminds an org at most once per track and day.",
            data_schema=_object({
                "campaign_id": ID, "campaign_title": {"type": "string"}, "track": TRACK,
                "track_label": {"type": "string"}, "tenant_name": {"type": "string"}, "requested_at": TIMESTAMP,
                # the person who asks, and how their role reads (部门管理员（党委宣传部）): whom the orgs contact
                "asked_by": _object({"account_id": ID, "name": {"type": "string"}, "email": {"type": "string"},
                                     "role": {"type": "string"}}),
                "recipients": {"type": "array", "minItems": 1, "maxItems": 20000, "items": _object(
                    {"org_id": ID,  # a university's tenant slug when the ministry reminds
                     "name": {"type": "string"}, "level": LEVEL, "contact_email": {"type": "string"},
                     "stage": {"type": "string"}, "stage_label": {"type": "string"},
                     "deadline": {"type": ["string", "null"], "format": "date-time"},
                     "days_late": {"type": "integer", "minimum": 0}},
                    {"contact_name": {"type": ["string", "null"]}})},
            }),
            subscribers=("notify.on_supervision_reminded",),
        ),
    ]
}


@dataclass(frozen=True)
class Event:
    """A received or to-be-published event, validated against the catalogue."""

    event_id: str
    type: str
    version: int
    occurred_at: str
    tenant: str
    data: dict

    def to_dict(self) -> dict:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at,
            "tenant": self.tenant,
            "data": self.data,
        }


class InvalidEvent(InvalidInput):
    code = "invalid_event"


def event_type(name: str) -> EventType:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise InvalidEvent(f"未登记的事件类型：{name}。", found=name) from None


def make_event(name: str, tenant: str, data: dict, *, occurred_at: datetime | None = None) -> Event:
    """Build and validate a new event of the current catalogue version."""
    et = event_type(name)
    when = (occurred_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    event = Event(uuid.uuid4().hex, name, et.version, when.isoformat(), tenant, data)
    validate_envelope(event.to_dict())
    return event


def validate_envelope(doc: Any) -> Event:
    """Check an envelope and its data against the catalogue; return the Event."""
    problems = [e.message for e in _envelope_validator.iter_errors(doc)]
    if problems:
        raise InvalidEvent("事件信封不符合约定：" + "；".join(problems), found=problems)
    et = event_type(doc["type"])
    if doc["version"] != et.version:
        raise InvalidEvent(
            f"事件 {et.name} 的版本为 {doc['version']}，本服务只认识版本 {et.version}。",
            expected=et.version,
            found=doc["version"],
        )
    problems = et.data_errors(doc["data"])
    if problems:
        raise InvalidEvent(f"事件 {et.name} 的数据不符合约定：" + "；".join(problems), found=problems)
    return Event(**{k: doc[k] for k in ("event_id", "type", "version", "occurred_at", "tenant", "data")})


def subscriptions() -> list[tuple[EventType, str]]:
    """Every (event type, subscriber) pair: one durable queue each."""
    return [(et, sub) for et in CATALOGUE.values() for sub in et.subscribers]


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table, for the README (kept in sync by a test)."""
    rows = ["| event | from | to | version | what it means |", "| --- | --- | --- | --- | --- |"]
    for et in CATALOGUE.values():
        to = ", ".join(sorted({s.split(".")[0] for s in et.subscribers})) or "-"
        rows.append(f"| `{et.name}` | {et.source} | {to} | {et.version} | {et.description} |")
    return "\n".join(rows)
