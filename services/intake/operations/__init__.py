"""Intake's use cases: each takes a session (one transaction) and plain values.

Entrypoints in `service.py` authenticate, validate the body against the OpenAPI document, open a
transaction and call exactly one function here (the upload lifecycle's use cases open their own
transactions: the object store's work runs between two). The state change and its event (through the
outbox) commit together, or neither. The rules themselves are pure functions in `domain/`. One module per
aggregate; callers keep `from services.intake import operations as ops`.

    tenants         tenants (universities, the ministry), their API keys, who is calling
    campaigns       published campaigns: ids scoped by owner, lookups, publishing, JSON and event
    orgs            a university's org tree: import, lookups, listing
    pages           a page of a listing
    extensions      deadline extensions for one org and stage
    submission_log  the log row of every action on a submission
    files           file records: JSON, lookups, what a mismatch says; move_file, the one place a file's state changes
    submissions     works: create, edit, submit stage by stage (gather, decide in domain/, apply), withdraw, list,
                    receipts; move_submission, the one place a work's state changes
    reopening       a change to the files of a submitted stage returns the work to before it
    uploads         the upload lifecycle: register, receive the bytes, complete, delete, expire
    checks          media's checks of files, as they arrive
    forwarding      择优报送: the works a round selected go to the level above
    idempotency     Idempotency-Key: the first response, replayed on a retry
    accounts        people: invite (one, or a list), grants, disable and enable, accept an invitation
    audit           the audit log: one row per change, in the change's transaction; read by the tenant
    signin          signing in on intake's pages: password, second factor, e-mailed links, signing out
    sessions        ending a person's sessions here and (by event) on review and notify
(signin and sessions are imported by module: `from services.intake.operations import signin`.)
"""
from services.intake.operations.accounts import (
    INVITATION_TTL,
    InvitationView,
    accept_invitation,
    account_json,
    add_grant,
    disable_account,
    enable_account,
    get_account,
    grant_json,
    import_accounts,
    invitation_view,
    invite,
    list_accounts,
    remove_grant,
    reset_second_factor,
    token_hash,
    update_account,
)
from services.intake.operations.audit import ACTIONS, audit_json, list_audit, record, record_by
from services.intake.operations.campaigns import (
    CAMPAIGN_ID_MAX,
    campaign_event_data,
    campaign_filter,
    campaign_json,
    campaign_platform_id,
    definition_of,
    find_campaign,
    list_campaigns,
    publish_campaign,
    root_campaign_id,
    track_of,
    visible_campaign,
)
from services.intake.operations.checks import record_file_check
from services.intake.operations.extensions import extension_json, extension_until, grant_extension, list_extensions
from services.intake.operations.files import (
    expired_uploads,
    file_json,
    files_of,
    get_file,
    mismatch_error,
    move_file,
    safe_name,
    stored_files_of,
)
from services.intake.operations.forwarding import forward_selection
from services.intake.operations.idempotency import IDEMPOTENCY_TTL, forget_idempotency_keys, run_idempotent
from services.intake.operations.orgs import get_org, import_orgs, list_orgs, org_json, org_names
from services.intake.operations.pages import MAX_PER_PAGE, paged, sync_of
from services.intake.operations.reopening import reopen_for_file
from services.intake.operations.sessions import person_caller
from services.intake.operations.submission_log import log
from services.intake.operations.submissions import (
    Analyser,
    create_submission,
    ensure_editable,
    get_submission,
    list_receipts,
    list_submissions,
    lock_for_change,
    move_submission,
    submission_context,
    submission_json,
    submit_submission,
    update_submission,
    withdraw_submission,
    work_facts,
)
from services.intake.operations.tenants import (
    MINISTRY,
    Caller,
    authenticate,
    create_tenant,
    issue_key,
    key_caller,
    require_university,
    revoke_keys,
    set_category,
)
from services.intake.operations.uploads import (
    clean_abandoned_uploads,
    complete_upload,
    confirm_file,
    delete_file,
    discard_file,
    receive_upload,
    register_file,
)

__all__ = [
    "accept_invitation", "account_json", "ACTIONS", "add_grant", "audit_json", "Caller", "disable_account",
    "enable_account", "get_account", "grant_json", "import_accounts", "INVITATION_TTL", "invitation_view",
    "InvitationView", "invite", "key_caller", "list_accounts", "list_audit", "record", "record_by", "remove_grant",
    "reset_second_factor",
    "token_hash", "update_account",
    "Analyser", "authenticate", "campaign_event_data", "campaign_filter", "CAMPAIGN_ID_MAX", "campaign_json",
    "campaign_platform_id", "clean_abandoned_uploads", "complete_upload", "confirm_file", "create_submission",
    "create_tenant", "set_category", "definition_of", "delete_file", "discard_file", "ensure_editable", "expired_uploads",
    "extension_json", "extension_until", "file_json", "files_of", "find_campaign", "forget_idempotency_keys",
    "forward_selection", "get_file", "get_org", "get_submission", "grant_extension", "IDEMPOTENCY_TTL",
    "import_orgs", "issue_key", "list_campaigns", "list_extensions", "list_orgs", "list_receipts",
    "list_submissions", "lock_for_change", "log", "MAX_PER_PAGE", "MINISTRY", "mismatch_error", "move_file",
    "move_submission", "org_json", "org_names", "paged", "person_caller", "publish_campaign", "sync_of",
    "receive_upload", "record_file_check",
    "register_file", "reopen_for_file", "require_university", "revoke_keys", "root_campaign_id", "run_idempotent",
    "safe_name", "stored_files_of", "submission_context", "submission_json", "submit_submission", "track_of",
    "update_submission", "visible_campaign", "withdraw_submission", "work_facts",
]
