"""The education material library (教育素材库): the works selected in the ministry's round, searchable.

A work enters when a final round chooses it and the library is where its selection ends
(`enters_library`): the ministry's national selection (`selection_made` at the ministry
level, whatever its kind: the plan compiles what it selects into the 素材库 and 案例集), and
a selection whose decision is `library` at the level that decides (a university's own
素材库). Each entry is on a shelf: the national one ("ministry") or the own library of the
tenant whose round decided. `shelves_for` says which shelves a reader sees, and every read
here (search, the case collection, facets, size) takes those shelves: a university's own
library is never read by another university, nor by the ministry.

Its text is the title, the prose fields and the text media read in its documents and
subtitles. Search uses jieba's search-mode tokens (long words also as the shorter words
inside them, see `common.segment.search_tokens`), stop words left out, written to a
full-text index per database:

- SQLite (the embedded default): an FTS5 table `library_fts(tokens)` whose rowid is
  the work's `doc_id`; the tokens are joined by spaces, which FTS5's unicode61
  tokenizer splits on, so jieba's words are FTS5's terms. Ranked by bm25.
- PostgreSQL: `library_fts(doc_id, tokens tsvector)` with a GIN index. The vector is
  built with `array_to_tsvector` and queries are cast to `tsquery` from quoted lexemes,
  so PostgreSQL's own parser (which depends on the server's locale for Chinese) never
  touches the words. Ranked by ts_rank.

A query is cut the same way (accurate mode, stop words out) and every word must
match. Snippets are made here, from the normalised text, with the words marked.
Cutting is CPU-bound: callers run `index_tokens` and `query_words` in `eventlet.tpool`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from eventlet import tpool
from markupsafe import Markup, escape
from sqlalchemy import func, select, text

from common import clock, segment
from common.errors import Forbidden, InvalidInput
from common.locale import BEIJING, beijing_iso
from common.text import normalise, prose_keys, work_prose
from services.notify import casebook, people, readmodel
from services.notify.models import CampaignCopy, FileCopy, ForwardedWork, LibraryWork, TenantName

PER_PAGE = 20
SNIPPET_CHARS = 90
MAX_QUERY_WORDS = 12
FILE_TEXT_LIMIT = 2_000_000  # bytes of a file's extracted text read into the library
NATIONAL_SHELF = "ministry"  # the ministry's national selection: shared material, every reader's


# --------------------------------------------------------------------------- who reads which shelves

def shelves_for(reader: str | None) -> tuple[str, ...]:
    """The shelves a reader sees: the national one, and the own library of the university they read as.

    `reader` is that university's slug, or None for the ministry (its key, its people): the ministry reads the
    national shelf only, since a university's own library is the university's.
    """
    if reader is None or reader == NATIONAL_SHELF:
        return (NATIONAL_SHELF,)
    return (NATIONAL_SHELF, reader)


def page_reader(visitor: dict, asked: str | None) -> str | None:
    """The university a page visitor reads the library as (None: the ministry), as the dashboard decides it.

    The library's `university` filter doubles as the dashboard's menu: a person with grants at two universities
    reads as the one it names when they hold it, else as the first, where the dashboard opens. A filter naming
    a university they hold nothing in is no error here: it only filters the shelves they see.
    """
    try:
        return people.scope_of(visitor, asked).tenant
    except Forbidden:
        return people.scope_of(visitor).tenant


@dataclass(frozen=True)
class Query:
    q: str = ""
    track: str | None = None
    theme: str | None = None
    tenant: str | None = None
    year: int | None = None
    page: int = 1
    words: tuple[str, ...] = field(default=(), compare=False)  # `q` cut into words (query_words)


def parse_query(args, tenant_param: str = "university") -> Query:
    """The query and filters of a request's arguments, `q` cut into words (in tpool); 400 for a bad one."""
    q = (args.get("q") or "").strip()
    if len(q) > 100:
        raise InvalidInput(f"检索词最多 100 个字符，收到 {len(q)} 个。请缩短后重试。", code="query_too_long",
                           field="q", expected="≤ 100", found=len(q))
    return Query(q=q, track=args.get("track") or None, theme=args.get("theme") or None,
                 tenant=args.get(tenant_param) or None, year=_whole(args, "year", 2000, 2100),
                 page=_whole(args, "page", 1, 10_000) or 1, words=tpool.execute(query_words, q) if q else ())


def query_args(query: Query) -> dict:
    """The query's filters as `parse_query` reads them back (for the export and page links)."""
    return {k: v for k, v in (("q", query.q), ("track", query.track), ("theme", query.theme),
                              ("university", query.tenant), ("year", query.year)) if v}


def _whole(args, name: str, low: int, high: int) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"参数 {name} 应为 {low}–{high} 之间的整数，收到的是“{raw[:20]}”。请改正后重试。",
                           code="invalid_parameter", field=name, expected=f"{low}–{high}", found=raw[:20])
    return int(raw)


def index_tokens(text_: str) -> list[str]:
    """The terms a work is found by: search-mode tokens without stop words, each once."""
    stop = segment.stop_words()
    return sorted({w for w in segment.search_tokens(text_) if w not in stop and w.strip()})


def analyse(text_: str) -> tuple[list[str], list[str]]:
    """A work's index terms and its keywords, in one call (one tpool trip)."""
    return index_tokens(text_), [w for w, _ in segment.keywords(text_, 8)]


def query_words(q: str) -> tuple[str, ...]:
    """The words a query must all match: content words, or all its words if it has only stop words."""
    ws = segment.content_words(q) or segment.words(q)
    return tuple(dict.fromkeys(ws))[:MAX_QUERY_WORDS]


# --------------------------------------------------------------------------- writing

def add(session, work: LibraryWork, tokens: list[str]) -> None:
    """Insert the work and its index entry (same transaction); a work already in the library is kept."""
    if session.scalar(select(LibraryWork.doc_id).where(LibraryWork.submission_id == work.submission_id)) is not None:
        return
    session.add(work)
    session.flush()
    if session.bind.dialect.name == "sqlite":
        session.execute(text("INSERT INTO library_fts (rowid, tokens) VALUES (:id, :tokens)"),
                  {"id": work.doc_id, "tokens": " ".join(tokens)})
    else:
        session.execute(text("INSERT INTO library_fts (doc_id, tokens) VALUES (:id, array_to_tsvector(CAST(:tokens AS text[])))"),
                  {"id": work.doc_id, "tokens": tokens})


def work_text(session, store, fields: dict, files: list[dict], campaign_id: str | None = None,
              track: str | None = None) -> str:
    """A work's prose (every text field of its track, when its campaign is known here) and the text media read in
    its documents and subtitles."""
    spec = readmodel.track_spec(session, campaign_id, track) if campaign_id and track else {}
    keys = prose_keys(spec.get("fields") if spec.get("fields") else None)
    texts = [work_prose(fields, keys)] + [_file_text(session, store, f["file_id"]) for f in files]
    return "\n".join(t for t in texts if t)


def _file_text(session, store, file_id: str) -> str:
    f = session.get(FileCopy, file_id)
    if f is None or not f.text_key:
        return ""
    with store.open(f.text_key) as stream:
        return stream.read(FILE_TEXT_LIMIT).decode("utf-8", errors="replace")


def enters_library(d: dict) -> bool:
    """Whether a `selection_made` puts its chosen works into the library: a final round's (to_level null) at the
    ministry, or one whose decision is entry into the library (an event from before decisions was the ministry's)."""
    if d["to_level"] is not None:
        return False
    return d["level"] == "ministry" or (d.get("decision") or {}).get("kind") == "library"


def add_selected(session, store, d: dict, decided_by: str) -> None:
    """The chosen works of a final selection that `enters_library` enter the library: the ministry's on the
    national shelf, a lower level's on the shelf of `decided_by`, the tenant whose round it was (the event's)."""
    if d["level"] != "ministry":
        _add_decided_below_ministry(session, store, d, shelf=decided_by)
        return
    track_label = readmodel.track_spec(session, d["campaign_id"], d["track"]).get("label")
    for result in d["results"]:
        if not result["selected"]:
            continue
        work = session.get(ForwardedWork, result["submission_id"])
        if work is None:
            # its `submission_forwarded` is still on its way: retry later rather than leave it out
            raise LookupError(f"forwarded work {result['submission_id']} not known yet")
        text_ = work_text(session, store, work.fields, work.files, work.campaign_id, work.track)
        tokens, keywords = tpool.execute(analyse, text_)
        theme = work.fields.get("theme")
        if not track_label:  # the ministry's campaign unknown here: the university's own words for the track
            own = session.get(CampaignCopy, work.campaign_id)
            track_label = (own.tracks.get(work.track, {}).get("label") if own else None) or work.track
        add(session, LibraryWork(
            submission_id=work.submission_id, shelf=NATIONAL_SHELF, tenant=work.tenant, tenant_name=work.tenant_name,
            campaign_id=work.root_campaign_id or work.campaign_id, track=work.track, track_label=track_label,
            theme=theme if isinstance(theme, str) and theme else None,
            year=work.forwarded_at.astimezone(BEIJING).year, title=work.title, org_name=work.org_name,
            text=text_, keywords=keywords, files=work.files, selected_at=clock.now()), tokens)


def _add_decided_below_ministry(session, store, d: dict, shelf: str) -> None:
    """A level's own library (a university's 素材库), on its tenant's shelf: its works never went up, so nothing
    was forwarded to copy; the event carries each chosen work's org and fields, and notify's file copies say
    which files it has."""
    if shelf == NATIONAL_SHELF:  # only the ministry's round fills the national shelf
        raise ValueError(f"a {d['level']} round's library decision cannot be on the national shelf")
    track_label = readmodel.track_spec(session, d["campaign_id"], d["track"]).get("label") or d["track"]
    names = {}
    for result in d["results"]:
        if not result["selected"]:
            continue
        files = [{"file_id": f.file_id, "name": f.name, "content_type": f.content_type} for f in session.scalars(
            select(FileCopy).where(FileCopy.submission_id == result["submission_id"]).order_by(FileCopy.file_id))]
        fields = result.get("fields") or {"title": result.get("title", "")}
        text_ = work_text(session, store, fields, files, d["campaign_id"], d["track"])
        tokens, keywords = tpool.execute(analyse, text_)
        theme = fields.get("theme")
        owner = result["tenant"]
        if owner not in names:
            row = session.get(TenantName, owner)
            names[owner] = row.name if row else owner
        add(session, LibraryWork(
            submission_id=result["submission_id"], shelf=shelf, tenant=owner, tenant_name=names[owner],
            campaign_id=d["campaign_id"], track=d["track"], track_label=track_label,
            theme=theme if isinstance(theme, str) and theme else None,
            year=clock.now().astimezone(BEIJING).year, title=result.get("title") or fields.get("title", ""),
            org_name=result.get("org_name", ""), text=text_, keywords=keywords, files=files,
            selected_at=clock.now()), tokens)


# --------------------------------------------------------------------------- reading

def _fts5_match(words: tuple[str, ...]) -> str:
    # Each word a quoted phrase (quotes doubled), all required.
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


def _tsquery(words: tuple[str, ...]) -> str:
    # Quoted lexemes, taken as they are (quote and backslash escaped), all required.
    return " & ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)


# Columns with few values (a handful of tracks, five themes, a few years). With words in the query, SQLite
# must find the matches through FTS5 first and check these on each match: given an index on them, its
# planner would rather walk, say, every story and run the MATCH once per story (seconds on 100,000 works).
# A unary + in front of the column takes its index out of the planner's choice.
# The shelf is broader still (the national shelf holds nearly every work) and is in every query: with its index,
# SQLite would also list a page newest first by reading every national work and sorting them, rather than walk
# selected_at and stop after the page. Only a count without words is best served by it (index only).
_BROAD = ("track", "theme", "year")


def _filters(query: Query, shelves: tuple[str, ...], sqlite_fts: bool = False,
             shelf_unindexed: bool = False) -> tuple[str, dict]:
    if not shelves:  # shelves_for always gives one; an empty list would be a caller that forgot the reader
        raise ValueError("a library read needs the reader's shelves (shelves_for)")
    plus = "+" if shelf_unindexed else ""
    sql = [f" AND {plus}w.shelf IN ({', '.join(f':shelf_{i}' for i in range(len(shelves)))})"]
    params = {f"shelf_{i}": shelf for i, shelf in enumerate(shelves)}
    for name in ("track", "theme", "tenant", "year"):
        value = getattr(query, name)
        if value not in (None, ""):
            plus = "+" if sqlite_fts and name in _BROAD else ""
            sql.append(f" AND {plus}w.{name} = :{name}")
            params[name] = value
    return "".join(sql), params


# Ranking by relevance (bm25, ts_rank) scores every match; past this many a common word (党员 is in most
# stories) would cost more than the page is worth, and those matches are listed newest first instead,
# which the index yields in order and stops after one page.
RANK_AT_MOST = 5000


def search(session, query: Query, shelves: tuple[str, ...],
           per_page: int = PER_PAGE) -> tuple[list[LibraryWork], int, bool]:
    """One page of works on the reader's shelves (shelves_for) matching the query and filters, and how many match
    in all, and whether the page is ranked by relevance (else newest first: no words, or more than RANK_AT_MOST
    matches)."""
    sqlite = session.bind.dialect.name == "sqlite"
    fts = sqlite and bool(query.words)
    where, params = _filters(query, shelves, sqlite_fts=fts, shelf_unindexed=sqlite)
    params.update(limit=per_page, offset=(max(1, query.page) - 1) * per_page)
    newest = "ORDER BY w.selected_at DESC, w.doc_id DESC"
    if not query.words:
        base = f"FROM library_works w WHERE 1 = 1{where}"
        counted, _ = _filters(query, shelves)  # the same filters, the shelf's index allowed
        total = session.execute(text(f"SELECT count(*) FROM library_works w WHERE 1 = 1{counted}"), params).scalar_one()
        ranked, order = False, newest
    else:
        if sqlite:
            params["match"] = _fts5_match(query.words)
            base = f"FROM library_fts f JOIN library_works w ON w.doc_id = f.rowid WHERE library_fts MATCH :match{where}"
            counted = base  # the shelves always filter: the count joins the works too
            relevance = "ORDER BY bm25(library_fts), w.doc_id"
            latest = "ORDER BY f.rowid DESC"  # FTS5 walks its rowids backwards and stops after the page
        else:
            params["match"] = _tsquery(query.words)
            base = (f"FROM library_fts f JOIN library_works w ON w.doc_id = f.doc_id "
                    f"WHERE f.tokens @@ CAST(:match AS tsquery){where}")
            counted = base
            relevance = "ORDER BY ts_rank(f.tokens, CAST(:match AS tsquery)) DESC, w.doc_id"
            latest = "ORDER BY w.doc_id DESC"
        total = session.execute(text(f"SELECT count(*) {counted}"), params).scalar_one()
        ranked = total <= RANK_AT_MOST
        # works enter in selection order, so the newest are the highest doc_ids: the index's own order
        order = relevance if ranked else latest
    ids = session.execute(text(f"SELECT w.doc_id {base} {order} LIMIT :limit OFFSET :offset"), params).scalars().all()
    found = {w.doc_id: w for w in session.scalars(select(LibraryWork).where(LibraryWork.doc_id.in_(ids)))}
    return [found[i] for i in ids], total, ranked


def all_matching(session, query: Query, shelves: tuple[str, ...], limit: int) -> list[LibraryWork]:
    """Up to `limit` matching works on the reader's shelves (for the case collection), grouped by track, best
    first within each."""
    works, _, _ = search(session, Query(q=query.q, track=query.track, theme=query.theme, tenant=query.tenant,
                               year=query.year, words=query.words), shelves, per_page=limit)
    order = {t: i for i, t in enumerate(dict.fromkeys(w.track for w in works))}
    return sorted(works, key=lambda w: order[w.track])


def search_page(session, query: Query, shelves: tuple[str, ...]) -> dict:
    """A page of the library as the API gives it: works with snippets, how many match, in which order."""
    works, total, ranked = search(session, query, shelves)
    return {"items": [work_json(w, query.words) for w in works], "total": total, "page": query.page,
            "per_page": PER_PAGE, "words": list(query.words), "order": "relevance" if ranked else "newest"}


def cases(session, query: Query, shelves: tuple[str, ...], limit: int) -> list[casebook.Case]:
    """The works matching the query as the case collection (案例集) lists them."""
    return [casebook.Case(submission_id=w.submission_id, title=w.title, track=w.track, track_label=w.track_label,
                          university=w.tenant_name, org_name=w.org_name, theme=w.theme, year=w.year, text=w.text,
                          keywords=tuple(w.keywords))
            for w in all_matching(session, query, shelves, limit)]


def size(session, shelves: tuple[str, ...]) -> int:
    """How many works are on the reader's shelves."""
    return session.scalar(select(func.count()).select_from(LibraryWork).where(LibraryWork.shelf.in_(shelves)))


def facets(session, shelves: tuple[str, ...]) -> dict:
    """The values the filters offer, with how many works on the reader's shelves each has (a count is a read too:
    another university's own entries must not show in it)."""
    def grouped(*columns):
        return session.execute(select(*columns, func.count()).where(LibraryWork.shelf.in_(shelves))
                               .group_by(*columns).order_by(*columns)).all()

    return {
        "tracks": [{"value": t, "label": label, "count": n} for t, label, n in
                   grouped(LibraryWork.track, LibraryWork.track_label)],
        "themes": [{"value": t, "count": n} for t, n in grouped(LibraryWork.theme) if t],
        "universities": [{"value": t, "label": name, "count": n} for t, name, n in
                         grouped(LibraryWork.tenant, LibraryWork.tenant_name)],
        "years": [{"value": y, "count": n} for y, n in grouped(LibraryWork.year)],
    }


def snippet(text_: str, words: tuple[str, ...], width: int = SNIPPET_CHARS) -> Markup:
    """A passage of the (normalised) text around the densest cluster of the query's words, escaped, with
    the words in <mark>; the beginning of the text when no word occurs."""
    clean = " ".join(normalise(text_).split())
    hits = sorted((i, i + len(w), w) for w in set(words) if w for i in _find_all(clean, w))
    if not hits:
        return escape(clean[:width]) + ("…" if len(clean) > width else "")
    # the window starting shortly before the hit after which the most distinct words follow within `width`
    best = max(range(len(hits)), key=lambda k: (len({w for i, _, w in hits[k:] if i < hits[k][0] + width}), -k))
    start = max(0, hits[best][0] - width // 4)
    end = min(len(clean), start + width)
    out, pos = [Markup("…") if start else Markup("")], start
    for i, j, _ in hits:
        if i < pos or i >= end:
            continue  # overlaps a word already marked, or outside the window
        out += [escape(clean[pos:i]), Markup("<mark>"), escape(clean[i:min(j, end)]), Markup("</mark>")]
        pos = min(j, end)
    out.append(escape(clean[pos:end]))
    if end < len(clean):
        out.append(Markup("…"))
    return Markup("").join(out)


def _find_all(haystack: str, needle: str, limit: int = 50) -> list[int]:
    found, i = [], haystack.find(needle)
    while i >= 0 and len(found) < limit:
        found.append(i)
        i = haystack.find(needle, i + len(needle))
    return found


def work_json(work: LibraryWork, words: tuple[str, ...]) -> dict:
    return {
        "submission_id": work.submission_id, "title": work.title, "track": work.track,
        "track_label": work.track_label, "theme": work.theme, "year": work.year,
        "university": work.tenant_name, "tenant": work.tenant, "org_name": work.org_name,
        "shelf": work.shelf, "national": work.shelf == NATIONAL_SHELF,
        "keywords": work.keywords, "selected_at": beijing_iso(work.selected_at),
        "snippet_html": str(snippet(work.text, words)),
    }
