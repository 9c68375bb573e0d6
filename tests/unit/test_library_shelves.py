"""Which shelves of the education material library a reader sees (library.shelves_for, page_reader): the national
one, and a university's own 素材库 only for that university — never for another, nor for the ministry."""
import pytest

from services.notify import library, people


def test_the_ministry_reads_the_national_shelf_only():
    assert library.shelves_for(None) == ("ministry",)
    # a reader named by the ministry's slug is the ministry too, not a university with its own shelf
    assert library.shelves_for("ministry") == ("ministry",)


def test_a_university_reads_the_national_shelf_and_its_own_only():
    assert library.shelves_for("seu") == ("ministry", "seu")
    assert "seu" not in library.shelves_for("wust")


def person(*universities):
    return people.session_of([{"tenant": t, "tenant_kind": "university", "tenant_name": t, "role": "viewer"}
                              for t in universities])


@pytest.mark.parametrize("visitor, asked, reader", [
    ({"role": "ministry", "tenant": "ministry"}, None, None),  # the ministry's key or people
    ({"role": "ministry", "tenant": "ministry"}, "seu", None),  # a filter on SEU does not open SEU's shelf
    ({"role": "university", "tenant": "seu"}, None, "seu"),  # SEU's key
    ({"role": "university", "tenant": "seu"}, "wust", "seu"),  # a filter naming WUST: still SEU's reader
    (person("seu", "wust"), None, "seu"),  # grants at two: the first, as the dashboard opens
    (person("seu", "wust"), "wust", "wust"),  # the filter picks the other one they hold
    (person("seu", "wust"), "hust", "seu"),  # one they hold nothing in: as the dashboard opens, no error
])
def test_a_page_visitor_reads_as_the_university_they_view_as(visitor, asked, reader):
    assert library.page_reader(visitor, asked) == reader


def test_every_read_filters_on_the_shelves_and_refuses_to_read_without_them():
    where, params = library._filters(library.Query(tenant="wust"), ("ministry", "seu"))
    assert "w.shelf IN (:shelf_0, :shelf_1)" in where and "w.tenant = :tenant" in where
    assert (params["shelf_0"], params["shelf_1"], params["tenant"]) == ("ministry", "seu", "wust")
    with pytest.raises(ValueError):
        library._filters(library.Query(), ())
