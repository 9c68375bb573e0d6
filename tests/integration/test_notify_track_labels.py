"""The dashboard's track labels are read once per campaign version (3,000 copies' tracks on every view cost a
second at the national scale): a new campaign, or a newer version's label, shows at once. SQLite."""
from __future__ import annotations

from common.db import Store, migrate
from common.settings import migrations_dir
from services.notify import readmodel
from services.notify.models import CampaignCopy


def test_labels_follow_new_campaigns_and_new_versions(sqlite_url, tmp_path):
    migrate(sqlite_url, migrations_dir("notify"))
    store = Store(sqlite_url)
    ministry = {"story": {"label": "战疫故事汇"}}
    with store.transaction() as s:
        s.add(CampaignCopy(campaign_id="siyige-2020", tenant="ministry", title="四个一", tracks=ministry, version=1))
        s.add(CampaignCopy(campaign_id="wust.siyige-2020-wust", tenant="wust", title="四个一", derives_from="siyige-2020",
                           tracks={"story": {"label": "武科大故事"}, "firewall": {"label": "红色防火墙台账"}}, version=1))
    with store.transaction() as s:
        # the ministry names its tracks; a copy names the tracks it adds
        assert readmodel.track_labels(s) == {"story": "战疫故事汇", "firewall": "红色防火墙台账"}
    with store.transaction() as s:
        copy = s.get(CampaignCopy, "wust.siyige-2020-wust")
        copy.tracks, copy.version = {**copy.tracks, "firewall": {"label": "红色防火墙登记"}}, 2
        s.add(CampaignCopy(campaign_id="seu.lianyou", tenant="seu", title="两优一先", tracks={"nomination": {"label": "推荐"}},
                           version=1))
    with store.transaction() as s:
        assert readmodel.track_labels(s) == {"story": "战疫故事汇", "firewall": "红色防火墙登记", "nomination": "推荐"}
    store.dispose()
    # another database in the same process, with a campaign of the same id and version: its own labels
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    migrate(other_url, migrations_dir("notify"))
    other = Store(other_url)
    with other.transaction() as s:
        s.add(CampaignCopy(campaign_id="siyige-2020", tenant="ministry", title="四个一",
                           tracks={"lecture": {"label": "专题微党课"}}, version=1))
    with other.transaction() as s:
        assert readmodel.track_labels(s) == {"lecture": "专题微党课"}
    other.dispose()
