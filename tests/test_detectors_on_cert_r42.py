"""Scenario tests on CERT r4.2's telemetry: the detectors' fallbacks find C1-C4 there.

The organisation is logged as the public r4.2 release logs (``--telemetry cert-r4.2``): web
visits without upload/download, file rows only for copies to removable media, no received
mail, no HR events, no documents; and no competitors are configured. Each detector must find
its scenario from what is left, and say in its reasons what it could not see.
"""

from __future__ import annotations

from typing import Any

import pytest

from detect_helpers import caught, insiders, run
from molehunt.detectors.admin_sabotage import AdminSabotage
from molehunt.detectors.after_hours_leaker import AfterHoursLeaker
from molehunt.detectors.base import Detector
from molehunt.detectors.departure_exfiltration import DepartureExfiltration
from molehunt.detectors.snooper import Snooper

CASES = [("C1", AfterHoursLeaker, "visits_paste_leak_1d"),
         ("C2", DepartureExfiltration, "competitors_unconfigured"),
         ("C3", AdminSabotage, "visits_hacking_tools_1d"),
         ("C4", Snooper, "files_opened_other_user_host")]


def test_the_workspace_knows_what_it_cannot_see(r42_org: Any) -> None:
    from molehunt.store.status import store_status

    workspace, _ = r42_org
    seen = store_status(workspace)["coverage"]
    assert {"logon", "removable_connect", "removable_files", "web_visit", "email_sent",
            "directory"} <= set(seen["observed"])
    assert {"web_direction", "email_received", "file_access", "hr_departure",
            "document_labels"} <= set(seen["not_observed"])


@pytest.mark.parametrize(("scenario", "detector", "fallback"), CASES)
def test_the_scenario_is_found_from_what_r42_logs(r42_org: Any, scenario: str,
                                                  detector: type[Detector],
                                                  fallback: str) -> None:
    workspace, org = r42_org
    found = run(detector(), workspace)
    wanted = [i for i in insiders(org) if i["scenario"] == scenario]
    assert wanted, f"the test organisation has a {scenario} insider"
    for insider in wanted:
        assert caught(found, insider, top=3), f"{insider['user']} not in the day's top 3"
        mine = found[found.user_id == insider["user"]]
        features = {r["feature"] for reasons in mine.reasons for r in reasons}
        assert fallback in features, f"no reason says what stood in ({fallback})"
