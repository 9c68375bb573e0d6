"""Ranking a round (corrected for lenient and strict reviewers) and confirming which works go up, or, in the round
where the track's selection ends, which works are its result (decisions.py)."""
from __future__ import annotations

from sqlalchemy import select

from common import clock
from common.errors import Conflict
from common.locale import LEVEL_LABELS
from services.review.domain import completeness, decisions, history, publicity, ranking, rounds
from services.review.domain.audit import Acting
from services.review.domain.lifecycles import ROUND, AssignmentState, RoundState, ScoreState
from services.review.domain.selection import Candidate, decide_selection
from services.review.models import Assignment, Entry, PublicityPeriod, Round, Score, SelectionRow
from services.review.operations import audit
from services.review.operations.copies import track_of, universities_of
from services.review.operations.rounds import batches_of, entries_of, reviewers_of, works_of


def round_end_of(session, rnd: Round, track: dict) -> decisions.RoundEnd:
    """Where the round's selection ends, with what the earlier batches of the round chose taken off its limits."""
    end = decisions.round_end(track, rnd.level)
    key = rounds.RoundKey(rnd.tenant, rnd.campaign_id, rnd.track, rnd.level, rnd.owner_org_id)
    earlier = [b.id for b in batches_of(session, key) if b.batch < rnd.batch]
    if not earlier:
        return end
    chosen = session.scalars(select(Entry.fields).join(SelectionRow, SelectionRow.submission_id == Entry.submission_id)
                             .where(SelectionRow.round_id.in_(earlier), SelectionRow.selected)).all()
    return decisions.remaining(end, [decisions.category_of(end, fields) for fields in chosen])


def submitted_counts(session, rnd: Round) -> tuple[dict[str, int], int]:
    """Per work, how many assigned reviewers submitted a score; and how many assigned scores are not submitted."""
    rows = session.execute(select(Assignment.submission_id, Score.state)
                           .outerjoin(Score, Score.assignment_id == Assignment.id)
                           .where(Assignment.round_id == rnd.id, Assignment.state == AssignmentState.ASSIGNED)).all()
    counts: dict[str, int] = {}
    pending = 0
    for sid, state in rows:
        if state == ScoreState.SUBMITTED:
            counts[sid] = counts.get(sid, 0) + 1
        else:
            pending += 1
    return counts, pending


class NeedsConfirmation(Conflict):
    """Something is incomplete and the form did not say `confirmed=1`: the page asks (409, nothing done)."""

    def __init__(self, question: completeness.Question):
        super().__init__("；".join(question.missing) + "。" + question.consequence, code="confirmation_needed")
        self.question = question


def close_question(session, rnd: Round) -> completeness.Question | None:
    counts, pending = submitted_counts(session, rnd)
    k = rnd.reviewers_per_work or 0
    short = completeness.short_of_k(k, counts, [e.submission_id for e in entries_of(session, rnd)],
                                    experts_assigned=bool(counts) or pending > 0)
    return completeness.before_closing(pending, short, k)


def ranking_of(session, rnd: Round, sort: str = "normalised") -> dict:
    entries = {e.submission_id: e for e in entries_of(session, rnd)}
    rows = session.execute(select(Assignment.submission_id, Assignment.reviewer_id, Score.total)
                           .join(Score, Score.assignment_id == Assignment.id)
                           .where(Assignment.round_id == rnd.id, Assignment.state == AssignmentState.ASSIGNED,
                                  Score.state == ScoreState.SUBMITTED)).all()
    scores = [ranking.Score(w, r, t) for w, r, t in rows if w in entries and t is not None]
    ranked, biases = ranking.fit(scores) if scores else ([], [])
    track = track_of(session, rnd.campaign_id, rnd.track)
    end = round_end_of(session, rnd, track)
    confirmed = confirmed_of(session, rnd)
    if confirmed is not None:  # the record, as the orgs were told it: no new fit reorders it
        ranked, unscored_ids = ranking.as_confirmed(confirmed["places"], ranked)
        unscored = [entries[sid] for sid in unscored_ids if sid in entries]
    else:
        scored = {r.work_id for r in ranked}
        unscored = [e for sid, e in entries.items() if sid not in scored]
    ranked = [r for r in ranked if r.work_id in entries]
    if confirmed is not None:
        chosen = confirmed["chosen"]
    k = rnd.reviewers_per_work or 0
    counts, pending = submitted_counts(session, rnd)
    # 「评分不足：2/3」: a work short of the round's k submitted scores (a vetting has no experts)
    short = {} if end.vetting else completeness.short_of_k(k, counts, [r.work_id for r in ranked],
                                                           experts_assigned=bool(counts) or pending > 0)
    if confirmed is None:  # ticked for the admin: the best within the limit and each category's places, never a
        # work short of its k scores (the admin may still tick it, and is asked once more on confirming)
        keep = set(completeness.pretickable([r.work_id for r in ranked], short))
        chosen = decisions.preselected(end, [(r.work_id, decisions.category_of(end, entries[r.work_id].fields))
                                             for r in ranked if r.work_id in keep])
    sort = sort if sort in completeness.SORTS else "normalised"
    categories = {sid: decisions.category_of(end, e.fields) for sid, e in entries.items()}
    return {"ranked": [(r, entries[r.work_id]) for r in completeness.sorted_rows(ranked, sort)],
            "sort": sort, "other_places": completeness.other_places(ranked, sort), "short": short, "k": k,
            "few_scores": completeness.few_scores_note(biases) if not end.vetting else None,
            "unscored": unscored, "limit": end.limit,
            "biases": biases, "track": track, "chosen": chosen, "up": end.up, "end": end,
            "up_label": LEVEL_LABELS.get(end.up or "", ""),
            "outcome": decisions.describe(end), "confirm_label": decisions.confirm_label(end),
            "categories": categories if end.category_field else {},
            "confirmed": confirmed is not None, "reasons": confirmed["reasons"] if confirmed else {},
            "publicity": confirmed["publicity"] if confirmed else None,
            "history": history_of(session, rnd),
            # the bias table names each expert (the admin knows them; reviews are per round, so are the ids)
            "reviewer_names": {r.id: (r.name, r.email) for r in reviewers_of(session, rnd)},
            "universities": universities_of(session, rnd, list(entries.values())),
            # 「须于 …（北京时间）前向教育部报送」; once passed the page says so instead of offering the button
            "forward_by": rounds.forwarding_deadline(end, track, clock.now())}


def confirmed_of(session, rnd: Round) -> dict | None:
    """A confirmed round's result as its pages show it: the chosen works, why each failed a vetting (审核不通过的原因),
    and a publicity's period (its last day, Beijing, and whether it is over); None before the confirmation."""
    if rnd.state != RoundState.SELECTED:
        return None
    rows = session.scalars(select(SelectionRow).where(SelectionRow.round_id == rnd.id)).all()
    period = session.get(PublicityPeriod, rnd.id)
    shown = None
    if period is not None:
        p = publicity.period(period.confirmed_at, period.days)
        shown = {"until": p.until.isoformat(), "over": publicity.is_over(p.ends_at, clock.now()),
                 "announced": period.ended_at is not None}
    return {"chosen": {row.submission_id for row in rows if row.selected},
            "places": [ranking.Recorded(row.submission_id, row.rank, row.normalised, row.raw_mean) for row in rows],
            "reasons": {row.submission_id: row.reason for row in rows if row.reason}, "publicity": shown}


def history_of(session, rnd: Round, submission_ids: list[str] | None = None) -> dict[str, list[str]]:
    """Each work's places in the rounds confirmed before this one (domain/history.py), as lines the admin reads:
    a work forwarded into this round shows its rank and result in the round that sent it. `submission_ids`: a page
    of the round's works; None: all of them, found in the database (a national round may hold more works than a
    query may name)."""
    if submission_ids is not None and not submission_ids:
        return {}
    works = submission_ids if submission_ids is not None else works_of(rnd)
    rows = session.execute(select(SelectionRow, Round).join(Round, Round.id == SelectionRow.round_id)
                           .where(SelectionRow.submission_id.in_(works), SelectionRow.round_id != rnd.id,
                                  Round.state == RoundState.SELECTED)).all()
    ends: dict[tuple[str, str, str], decisions.RoundEnd] = {}
    places: dict[str, list[history.Place]] = {}
    for row, other in rows:
        key = (other.campaign_id, other.track, other.level)
        if key not in ends:
            ends[key] = decisions.round_end(track_of(session, other.campaign_id, other.track), other.level)
        end = ends[key]
        places.setdefault(row.submission_id, []).append(history.Place(
            other.id, other.level, other.batch, other.selected_at, row.rank, row.normalised is not None,
            row.selected, end.up, end.vetting))
    confirmed_at = rnd.selected_at if rnd.state == RoundState.SELECTED else None
    return {sid: [history.describe(p) for p in history.earlier_places(found, rnd.id, confirmed_at)]
            for sid, found in places.items()}


def comments_for_org(session, rnd: Round) -> dict[str, list[str]]:
    """Per work, the experts' comments for the submitting org (给报送单位的意见) of its submitted scores, in the work's
    assignment order, without names: what the result mail carries when the admin chooses to send them."""
    rows = session.execute(select(Assignment.submission_id, Score.comment_for_org)
                           .join(Score, Score.assignment_id == Assignment.id)
                           .where(Assignment.round_id == rnd.id, Assignment.state == AssignmentState.ASSIGNED,
                                  Score.state == ScoreState.SUBMITTED)
                           .order_by(Assignment.created_at, Assignment.id)).all()
    out: dict[str, list[str]] = {}
    for sid, text in rows:
        if text and text.strip():
            out.setdefault(sid, []).append(text.strip())
    return out


def confirm_selection(session, outbox, by: Acting, rnd: Round, selected: list[str],
                      reasons: dict[str, str] | None = None, confirmed: bool = True, send_comments: bool = False) -> None:
    """Confirm the round's selection; in a vetting `selected` are the works that pass and `reasons` say why each
    other one fails. `confirmed` False (the page's first click): a choice holding a work short of its k scores is
    not confirmed but asked about (NeedsConfirmation), after every other check, so a refusal still comes first.
    `send_comments`: the admin chose to send the experts' comments for the orgs with the results (comments_for_org
    on each work's result); otherwise they stay here, and the confidential comments to the admin never leave."""
    board = ranking_of(session, rnd)
    end, category = board["end"], board["categories"].get
    candidates = ([Candidate(e.submission_id, e.tenant, e.title, r.rank, r.normalised, r.raw_mean,
                             category(e.submission_id)) for r, e in board["ranked"]]
                  + [Candidate(e.submission_id, e.tenant, e.title, category=category(e.submission_id))
                     for e in board["unscored"]])
    now = clock.now()
    selection = decide_selection(rnd.state, rnd.level, candidates, selected, end=end, reasons=reasons,
                                 deadline=rounds.forwarding_deadline(end, board["track"], now), now=now)
    if not confirmed and not end.vetting:
        counts, pending = submitted_counts(session, rnd)
        short = completeness.short_of_k(board["k"], counts, [c.submission_id for c in candidates],
                                        experts_assigned=bool(counts) or pending > 0)
        question = completeness.before_confirming(selection.selected, short, board["k"], board["up_label"] or None,
                                                  board["outcome"] if end.final else "")
        if question is not None:
            raise NeedsConfirmation(question)
    for p in selection.placed:
        session.add(SelectionRow(round_id=rnd.id, submission_id=p.submission_id, rank=p.rank, normalised=p.normalised,
                                 raw_mean=p.raw_mean, selected=p.selected, reason=p.reason))
    if selection.publicity is not None:  # 公示: its end is announced by the timer (operations/publicity.py)
        session.add(PublicityPeriod(round_id=rnd.id, tenant=rnd.tenant, label=end.decision.title,
                                    days=selection.publicity.days, confirmed_at=now,
                                    ends_at=selection.publicity.ends_at))
    if rnd.state == RoundState.OPEN:  # a vetting has no scoring to close: it ends with its result
        ROUND.move(rnd, RoundState.CLOSED, at=now)
    ROUND.move(rnd, RoundState.SELECTED, at=now)
    results = selection.results
    if end.final and end.decision.kind == "library":
        # the deciding level's own library takes them: notify holds no forwarded copy of a work that never went up
        works = {e.submission_id: e for _, e in board["ranked"]} | {e.submission_id: e for e in board["unscored"]}
        results = [{**r, "org_name": works[r["submission_id"]].org_name or "", "fields": works[r["submission_id"]].fields}
                   if r["selected"] else r for r in results]
    if send_comments:
        found = comments_for_org(session, rnd)
        results = [{**r, "comments_for_org": found.get(r["submission_id"], [])} for r in results]
    data = {"round_id": rnd.id, "campaign_id": rnd.campaign_id, "track": rnd.track, "level": rnd.level,
            "to_level": end.up, "owner_org_id": rnd.owner_org_id or None,
            "selected": selection.selected, "not_selected": selection.not_selected, "results": results,
            # when it was confirmed, by the platform's clock: intake judges the forwarding deadline by this, not by
            # when the event reaches it, so a selection confirmed in time survives a broker outage
            "confirmed_at": now.isoformat()}
    if end.final:
        data["decision"] = decisions.event_decision(end)
    outbox.add(session, "selection_made", rnd.tenant, data)
    # who confirmed it; intake's own row (selection.forwarded, or selection.decided in a final round) follows
    audit.record(session, outbox, by, rnd, "round.selection_confirmed", "round", rnd.id, level=rnd.level,
                 to_level=end.up, selected=selection.selected, not_selected=len(selection.not_selected),
                 comments_for_org_sent=send_comments,
                 **({"decision": end.decision.kind} if end.final else {}))
