"""Every detector says what it needs to see and what stands in where a deployment cannot."""

from __future__ import annotations

import pytest

from molehunt.detectors import registry
from molehunt.sources.base import load_sources
from molehunt.store.coverage import OBSERVATIONS


def _seen(*layouts: str) -> frozenset[str]:
    sources = load_sources()
    return frozenset(o for name in layouts for o in sources[name].observes)


#: What each telemetry profile of the simulator can see (DESIGN.md §6b), from the layouts'
#: own declarations: the public releases and a logons + proxy + mail deployment.
PROFILES = {
    "cert-r4.2": _seen("cert.logon", "cert.device.r4", "cert.file.r4", "cert.email.r4",
                       "cert.http.r4", "cert.ldap.r4"),
    "cert-r6.2": _seen("cert.logon", "cert.device.r6", "cert.file.r6", "cert.email.r6",
                       "cert.http.r6", "cert.ldap.r5"),
    "sparse": _seen("cert.logon", "cert.email.r6", "cert.http.r6", "cert.ldap.r5"),
}


def test_profiles_differ_in_what_they_see() -> None:
    assert "web_direction" not in PROFILES["cert-r4.2"]
    assert "web_direction" in PROFILES["cert-r6.2"]
    assert "removable_connect" not in PROFILES["sparse"]


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("name", sorted(registry()))
def test_a_detector_declares_a_fallback_for_what_a_profile_lacks(name: str,
                                                                 profile: str) -> None:
    detector = registry()[name]
    assert detector.observes <= set(OBSERVATIONS), name
    assert set(detector.fallbacks) <= detector.observes, name
    assert detector.essential <= detector.observes, name
    assert all(text.strip() for text in detector.fallbacks.values()), name
    missing = detector.observes - PROFILES[profile]
    unhandled = missing - set(detector.fallbacks) - detector.essential
    assert not unhandled, (f"{name} fires on {sorted(unhandled)}, which {profile} lacks,"
                           " and declares no fallback")
