from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from core.config import SiteConfig, load_site
from core.errors import ConfigError
from hallwatch.cli import main
from tests.fix_sites import EXAMPLE_SITE


def test_example_site_is_valid() -> None:
    site = load_site(EXAMPLE_SITE)
    assert [c.id for c in site.cities] == ["cc", "jlc"]
    assert {h.size.value for h in site.halls} == {"large", "medium", "small"}
    assert len(site.cameras()) == 4


def broken(edit):
    site = yaml.safe_load(EXAMPLE_SITE.read_text())
    edit(site)
    return site


def set_in(path, value):
    def edit(site):
        node = site
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


CASES = [
    ("halls[cc-nanguan].size", set_in(["halls", 0, "size"], "huge")),
    ("halls[cc-nanguan].cameras[cam1].zones[q1].polygon[1][0]",
     set_in(["halls", 0, "cameras", 0, "zones", 2, "polygon", 1, 0], 1.5)),
    ("halls[cc-nanguan].cameras[cam1].url", set_in(["halls", 0, "cameras", 0, "url"], "http://x/y")),
    ("halls[cc-chaoyang].cameras[cam1].zones[w1-desk]",
     lambda s: s["halls"][1]["cameras"][0]["zones"][0].pop("window")),
    ("halls[jlc-chuanying].cameras[cam1].analysis_fps", set_in(["halls", 2, "cameras", 0, "analysis_fps"], 0)),
    ("halls[cc-nanguan].windows[w1].colour", set_in(["halls", 0, "windows", 0, "colour"], "red")),
    ("(top level)", set_in(["halls", 0, "city"], "nowhere")),
    ("halls[cc-nanguan]", set_in(["halls", 0, "cameras", 1, "zones", 0, "window"], "w9")),
    ("cities", set_in(["cities"], [])),
]


@pytest.mark.parametrize(("field", "edit"), CASES, ids=[c[0] for c in CASES])
def test_errors_name_the_field(tmp_path: Path, field: str, edit) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(broken(edit)))
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert f"  {field}:" in str(info.value)


def test_password_never_in_errors_or_repr(tmp_path: Path) -> None:
    site = broken(set_in(["halls", 0, "cameras", 0, "url"], "http://admin:hunter2@10.0.0.1/x"))
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert "hunter2" not in str(info.value)
    assert "demo-secret" not in repr(load_site(EXAMPLE_SITE))


def test_url_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = broken(set_in(["halls", 0, "cameras", 0, "url"], "rtsp://admin:${CAM_PW}@10.0.0.1/x"))
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    with pytest.raises(ConfigError, match="CAM_PW is not set"):
        load_site(path)
    monkeypatch.setenv("CAM_PW", "s3cret")
    camera = load_site(path).halls[0].cameras[0]
    assert camera.url == "rtsp://admin:s3cret@10.0.0.1/x"
    assert camera.safe_url == "rtsp://admin:***@10.0.0.1/x"


def test_config_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(EXAMPLE_SITE)]) == 0
    assert "3 halls" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(broken(set_in(["halls", 0, "flow"], "fast"))))
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "halls[cc-nanguan].flow" in err
    (tmp_path / "notyaml.yaml").write_text("halls: [unclosed")
    assert main(["config", "check", str(tmp_path / "notyaml.yaml")]) == 1
    assert "not valid YAML" in capsys.readouterr().err
    assert main(["config", "check", str(tmp_path / "missing.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_detector_confidence_must_reach_the_lowest_analytics_threshold() -> None:
    raw = yaml.safe_load(EXAMPLE_SITE.read_text())
    site = SiteConfig.model_validate(raw)
    assert site.detector.confidence <= site.analytics.confidence.desk
    raw["detector"] = {"confidence": 0.3}
    with pytest.raises(ValidationError, match=r"detector.confidence 0.3 is above analytics.confidence.desk 0.12"):
        SiteConfig.model_validate(raw)
    raw["detector"] = {"confidence": 0.1}
    raw["halls"][0]["cameras"][0]["zones"][0]["confidence"] = 0.05
    with pytest.raises(ValidationError, match=r"above halls\[.*\]\.zones\[.*\]\.confidence 0.05"):
        SiteConfig.model_validate(raw)
