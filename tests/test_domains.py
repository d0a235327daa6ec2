"""The shipped domain categories and their extension by the user."""

from __future__ import annotations

from pathlib import Path

import pytest

from molehunt.config import Settings
from molehunt.domains import CATEGORIES, load_domain_categories
from molehunt.errors import ConfigError


def test_every_category_is_represented_and_subdomains_match() -> None:
    categories = load_domain_categories()
    shipped = {categories.category(d) for d in categories.by_domain}
    assert shipped == CATEGORIES - {"competitor"}
    assert categories.category("www.Dropbox.com") == "cloud_storage"
    assert categories.category("uploads.dropbox.com") == "cloud_storage"
    assert categories.category("mail.yahoo.com") == "webmail"
    assert categories.category("weixin.qq.com") == "social"  # most specific wins over qq.com
    assert categories.category("example.org") is None


def test_user_files_and_competitors_extend_the_list(tmp_path: Path) -> None:
    extra = tmp_path / "domains.csv"
    extra.write_text("domain,category\nexpertcalls.example,expert_network\ndropbox.com,news\n")
    categories = load_domain_categories([extra], competitors=["rival.example"])
    assert categories.category("expertcalls.example") == "expert_network"
    assert categories.category("dropbox.com") == "news"  # the user's word wins
    assert categories.category("jobs.rival.example") == "competitor"


def test_bad_category_file_is_a_clear_error(tmp_path: Path) -> None:
    extra = tmp_path / "domains.csv"
    extra.write_text("domain,category\nx.example,unheard_of\n")
    with pytest.raises(ConfigError, match="row 2"):
        load_domain_categories([extra])
    with pytest.raises(ConfigError, match="cannot read"):
        load_domain_categories([tmp_path / "missing.csv"])


def test_settings_file(tmp_path: Path) -> None:
    (tmp_path / "molehunt.toml").write_text(
        'company_domains = ["Corp.Example"]\ncompetitors = ["rival.example"]\nthreads = 1\n')
    settings = Settings.load(tmp_path)
    assert settings.company_domains == ("corp.example",)
    assert settings.threads == 1
    (tmp_path / "molehunt.toml").write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(tmp_path)
