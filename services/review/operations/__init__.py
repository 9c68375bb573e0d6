"""Review's use cases: each takes a session (one transaction) and plain values.

Entrypoints in `service.py` authenticate, check the form, open a transaction and call one
function here; the rules themselves (assignment, scoring, ranking, blindness, selection limits,
the lifecycles of rounds, assignments, scores and entries) are pure functions in `domain/`.
One module per aggregate; callers keep `from services.review import operations as ops`.

    copies       campaigns, orgs, tenants and API keys from other services' events, and their lookups
    entries      each work's copy and its files from events, and its place in a round
    rounds       rounds and their batches, titles, lists, settings, closing and reopening
    reviewers    a round's pool of reviewers
    assignments  who scores which work: the plan, by hand, declining, conflicts
    progress     the admin's round page: each reviewer's counts, works short of reviewers
    invitations  reviewers' sign-in links and the reminders before the deadline
    people       people signed in on the platform: their session, the rounds they administer, their tasks
    blind_views  what reviewers see, blind: their queue and one work
    discussion   experts' discussion of a work their reviews disagree on (blind to each other), with the admin
    scoring      saving a score
    reviews      what the admin reads: one work's reviews by every expert, the sheet of every score, universities
    selection    the ranking and the confirmed selection (with a vetting's reasons and a publicity's period)
    publicity    announcing, once, that a publicity's period (公示期) is over
    texts        near-duplicate texts
    audit        each change told to intake's audit log (review_audited), in the change's transaction
"""
from services.review.domain.audit import Acting, acting
from services.review.operations.assignments import (
    assign_manually,
    assign_round,
    declare_conflict,
    decline_work,
    remove_assignment,
    run_assignment,
)
from services.review.operations.blind_views import (
    NO_CLEAN_COPY,
    REVIEWER_COPY,
    _reviewer_file,
    queue,
    reviewer_assignment,
    work_label,
    work_view,
)
from services.review.operations.copies import (
    admin_for_key,
    masked_names,
    record_campaign,
    record_key,
    record_orgs,
    revoke_key,
    tenant_name,
    track_of,
    universities_of,
)
from services.review.operations.discussion import (
    for_admin as discussion_for_admin,
    for_expert as discussion_for_expert,
    open_discussion,
    post_as_admin,
    post_as_expert,
)
from services.review.operations.entries import (
    place,
    record_file,
    record_file_check,
    record_forwarded,
    record_reopening,
    record_submission,
    record_withdrawal,
)
from services.review.operations.invitations import (
    SIGN_IN_LINK_TTL,
    issue_sign_in_links,
    redeem_link,
    resend_link,
    resend_links_to,
    send_due_reminders,
    send_link_to,
)
from services.review.operations.people import (
    PERSON,
    assignment_for_visitor,
    end_person_sessions,
    home_of,
    person_session,
    reviewer_ids,
    round_for_visitor,
    tasks_of,
)
from services.review.operations.progress import WORKS_PER_PAGE, round_overview
from services.review.operations.publicity import end_due_publicities
from services.review.operations.reviewers import add_reviewer, add_reviewers, import_reviewers, remove_reviewer
from services.review.operations.reviews import campaign_title, score_sheet, work_reviews
from services.review.operations.rounds import (
    blind_title,
    close_round,
    entries_of,
    listed,
    new_id,
    reopen_round,
    reviewers_of,
    round_of_admin,
    rounds_of,
    set_round_settings,
)
from services.review.operations.scoring import save_draft, save_score
from services.review.operations.selection import NeedsConfirmation, close_question, confirm_selection, ranking_of
from services.review.operations.texts import index_text, matches_for, matches_for_reviewer, work_text

__all__ = [
    "NO_CLEAN_COPY", "PERSON", "REVIEWER_COPY", "SIGN_IN_LINK_TTL", "WORKS_PER_PAGE", "Acting", "_reviewer_file",
    "acting", "add_reviewer", "add_reviewers", "admin_for_key", "assign_manually", "assign_round",
    "NeedsConfirmation", "assignment_for_visitor", "blind_title", "campaign_title", "close_question",
    "close_round", "confirm_selection", "decline_work",
    "declare_conflict", "discussion_for_admin", "discussion_for_expert",
    "end_due_publicities", "end_person_sessions", "entries_of", "home_of", "import_reviewers", "index_text",
    "issue_sign_in_links",
    "listed", "masked_names", "matches_for", "matches_for_reviewer", "new_id", "person_session", "place", "queue",
    "ranking_of", "record_campaign", "record_file", "record_file_check", "record_forwarded", "record_key",
    "record_orgs", "record_reopening", "record_submission", "record_withdrawal", "redeem_link", "remove_assignment",
    "resend_link", "resend_links_to", "send_link_to",
    "open_discussion", "post_as_admin", "post_as_expert",
    "remove_reviewer", "reopen_round", "revoke_key", "reviewer_assignment", "reviewer_ids", "reviewers_of",
    "round_for_visitor", "round_of_admin", "round_overview", "rounds_of", "run_assignment", "save_draft", "save_score",
    "score_sheet", "send_due_reminders", "set_round_settings", "tasks_of", "tenant_name", "track_of", "universities_of",
    "work_label", "work_reviews", "work_text", "work_view",
]
