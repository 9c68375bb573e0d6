"""Operator commands for media: check stored files again.

    python -m services.media.admin recheck --missing-copies   # files checked before media made clean copies
    python -m services.media.admin recheck FILE_ID [FILE_ID ...]
    python -m services.media.admin recheck --all
    (add --dry-run to list the files without checking them)

Run on a host that has media's settings (MEDIA_DATABASE_URL, OBJECT_STORE_URL, DATA_DIR,
MEDIA_CHECK_TIMEOUT_S, MEDIA_CHECK_MEMORY_MB, MEDIA_SIDECAR_WAIT_S), beside the running service or not.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from sqlalchemy import func, select

from common.db import Store, migrate
from common.messaging import StandaloneOutbox
from common.objectstore import open_store
from common.settings import migrations_dir, service_config
from services.media import claims, pipeline
from services.media.models import CheckReport, OutboxMessage

RECHECK_HELP = """\
Check stored files again, the way media checks a file when it is uploaded: the policy from media's
copy of the file's campaign (the one last published), the work's sidecar subtitles for a video, the
declared type where media kept it, `media-check` in a child process under MEDIA_CHECK_TIMEOUT_S and
MEDIA_CHECK_MEMORY_MB, the derived files (clean copies, poster, contact sheet, text) stored under
the same keys. The new report replaces the file's report, and `file_checked` goes into media's outbox
in the same transaction; media's relay publishes it (within a second while media runs, else when it
next starts). Rechecking a subtitle file also judges its work's videos again, as an upload does; a video
is judged with every subtitle file of its work checked by then, and its `file_checked` waits (at most
MEDIA_SIDECAR_WAIT_S) while the service is checking one of them, as after an upload.

Intake, review and notify keep the newest check of each file (events are handled once by id, and a
check older than the one kept changes nothing), so they take the new report: reviewers get links to
the clean copies, notify serves the type media found. The other consequences are the rules of any
newer check, on purpose: when a file now FAILS (a policy tightened since, or a rule media did not have
then), intake reopens a submitted work that has that file in a submitted stage -- back to before that
stage, its receipt named as no longer valid, `submission_reopened` sent, review takes it out of its
round, notify mails the org (services/intake/domain/submission.py, reopening_for_file), forwarded
works included; and notify mails the org the findings of every file that does not pass cleanly.
Run with --dry-run first to see the files.

--missing-copies: the files whose report has no copy a reviewer may get (the playback copy of a video,
the review copy of anything else) and which were checked before media made clean copies (no
`derived_types` in the facts); a check that never read its file (unreadable, timeout, crash) is left
out: name it to check it again.

One line per file (file id, kind, verdict, derived files now), then a summary. Exit 1 if any file
could not be read from the object store (or is not known to media); the others are still checked."""


def open_media_store(config: dict) -> Store:
    migrate(config["DATABASE_URL"], migrations_dir("media"))
    return Store(config["DATABASE_URL"])


def select_files(session, file_ids: list[str], missing_copies: bool) -> tuple[list, list[str]]:
    """(the reports to check, ids named but unknown to media), in the order the files were first checked.
    Reports as rows of the columns the choice needs (not the text, which may be long)."""
    columns = (CheckReport.file_id, CheckReport.kind, CheckReport.state, CheckReport.verdict, CheckReport.derived,
               CheckReport.facts, CheckReport.findings)
    query = select(*columns).order_by(CheckReport.created_at, CheckReport.file_id)
    if file_ids:
        found = {r.file_id: r for r in session.execute(query.where(CheckReport.file_id.in_(file_ids)))}
        return [found[f] for f in dict.fromkeys(file_ids) if f in found], [f for f in file_ids if f not in found]
    rows = session.execute(query).all()
    return [r for r in rows if pipeline.lacks_clean_copy(r)] if missing_copies else rows, []


def _keywords(text: str, n: int):
    from common import segment  # jieba's dictionary: loaded on the first file with text

    return segment.keywords(text, n)


def recheck_one(db: Store, store, limits: pipeline.Limits, file_id: str, keywords=_keywords,
                wait_s: float = pipeline.SIDECAR_WAIT_S) -> tuple[str, str | None, str]:
    """Check one file again: (outcome, verdict, the line to print); outcome: checked, skipped, not_in_store."""
    with db.transaction() as session:
        row = session.get(CheckReport, file_id)
        if row is None:
            return "skipped", None, f"{file_id}\t-\tskipped: no longer known to media"
        if not claims.is_done(row):
            return "skipped", None, f"{file_id}\t{row.kind}\tskipped: being checked by the service now"
        job = pipeline.job_for(session, row)
    try:
        outcome = pipeline.check(store, job, limits, keywords)
    except pipeline.NotInStore as exc:
        return ("not_in_store", None,
                f"{file_id}\t{job.kind}\tNOT READ from the object store ({job.object_key}): {exc}")
    with db.transaction() as session:
        row = session.get(CheckReport, file_id)  # record locks the work's reports, this one among them, in order
        rejudged = pipeline.record(session, StandaloneOutbox(OutboxMessage), row, outcome, wait_s)
        verdict, derived, held = row.verdict, sorted(row.derived), row.held_since is not None
        reviewer = pipeline.REVIEWER_COPY.get(row.kind) in row.derived
    line = f"{file_id}\t{job.kind}\t{verdict}\t{', '.join(derived) or 'no derived files'}"
    if not reviewer:
        line += "\t(no copy for reviewers: see the findings)"
    if held:
        line += "\t(file_checked waits for the subtitles of its work being checked)"
    if rejudged:
        line += f"\tvideos judged again: {', '.join(v.file_id for v in rejudged)}"
    return "checked", verdict, line


def recheck(config: dict, file_ids: list[str], missing_copies: bool = False, dry_run: bool = False,
            out=print) -> int:
    """`recheck`: the named files, else those missing their copy (`missing_copies`), else every file."""
    db = open_media_store(config)
    store = open_store(config["OBJECT_STORE_URL"])
    limits = pipeline.Limits.of(config)
    try:
        with db.transaction() as session:
            todo, unknown = select_files(session, file_ids, missing_copies)
        for file_id in unknown:
            out(f"{file_id}\t-\tnot known to media")
        if dry_run:
            for r in todo:
                derived = ", ".join(sorted(r.derived)) or "no derived files"
                out(f"{r.file_id}\t{r.kind}\t{r.verdict or r.state}\t{derived}")
            out(f"{len(todo)} file(s) would be checked again")
            return 1 if unknown else 0
        outcomes, verdicts = Counter(), Counter()
        for r in todo:
            outcome, verdict, line = recheck_one(db, store, limits, r.file_id, wait_s=pipeline.sidecar_wait_s(config))
            outcomes[outcome] += 1
            verdicts[verdict] += 1
            out(line)
        with db.transaction() as session:
            waiting = session.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.published_at.is_(None)))
        summary = (f"checked again: {outcomes['checked']} (" + ", ".join(f"{v} {verdicts[v]}" for v in
                   ("passed", "warnings", "failed")) + f"); skipped (being checked): {outcomes['skipped']}; "
                   f"not read from the store: {outcomes['not_in_store']}; unknown: {len(unknown)}; "
                   f"events waiting in media's outbox: {waiting}")
        out(summary)
        return 1 if outcomes["not_in_store"] or unknown else 0
    finally:
        db.dispose()


def main(argv: list[str] | None = None, config: dict | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.media.admin",
                                     description="Operator commands for media.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("recheck", help="check stored files again and publish file_checked",
                       description=RECHECK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("file_ids", nargs="*", default=[], metavar="FILE_ID", help="the files to check again")
    which.add_argument("--all", action="store_true", help="every file media has checked")
    which.add_argument("--missing-copies", action="store_true",
                       help="the files checked before media made clean copies, without a copy for reviewers")
    p.add_argument("--dry-run", action="store_true", help="list the files, check nothing")
    args = parser.parse_args(argv)
    return recheck(config or service_config("media"), args.file_ids, args.missing_copies, args.dry_run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
