"""`geohazard phone`: an administrator at a terminal issues a monitor's activation code, lists and revokes phones."""

import re

import pytest

from runtime.settings import Settings
from sensors.simulator import demo_registry, seed_registry
from service.demo import _monitor_code
from service.field.phones import CodeRefused
from tests.cli.test_cli import geohazard
from tests.console.test_phones_page import activate_phone, monitor_of_point, phone_user_of
from tests.support import fetch


def test_phone_code_prints_the_person_and_a_code_whose_link_activates_their_phone(db, database_url):
    person = monitor_of_point(db, name="村监测员 孙")
    env = {"GEOHAZARD_DATABASE_URL": database_url}
    result = geohazard("phone", "code", "--person", str(person), "--base-url", "https://dizai.example.cn/", env=env)
    assert result.returncode == 0, result.stderr
    assert f"村监测员 孙 (person {person})" in result.stdout
    first, second = re.search(r"code: +([2-9A-Z]{4})-([2-9A-Z]{4})$", result.stdout, re.M).groups()
    assert re.search(r"expires: +\d{4}-\d\d-\d\d \d\d:\d\d China Standard Time", result.stdout)
    assert f"https://dizai.example.cn/field/activate?code={first}{second}\n" in result.stdout
    assert phone_user_of(database_url, activate_phone(database_url, f"{first}-{second}")).person_id == person
    # Without --base-url the link is `geohazard serve`'s default address.
    default = geohazard("phone", "code", "--person", str(person), env=env)
    assert re.search(r"http://127\.0\.0\.1:8000/field/activate\?code=[2-9A-Z]{8}$", default.stdout, re.M)


def test_phone_revoke_ends_the_phone_session_and_an_unknown_phone_is_refused_readably(db, database_url):
    person = monitor_of_point(db, name="村监测员 孙")
    env = {"GEOHAZARD_DATABASE_URL": database_url}
    code = re.search(r"code: +(\S+)", geohazard("phone", "code", "--person", str(person), env=env).stdout).group(1)
    session = activate_phone(database_url, code)
    listed = geohazard("phone", "list", env=env).stdout
    phone_id, = re.findall(rf"^(\d+)\t{person}\t村监测员 孙\tAndroid 12 test phone\t.*\tin use$", listed, re.M)
    revoked = geohazard("phone", "revoke", phone_id, env=env)
    assert revoked.returncode == 0 and f"phone {phone_id} revoked" in revoked.stdout
    assert phone_user_of(database_url, session) is None
    assert re.search(rf"^{phone_id}\t.*\trevoked .* by geohazard phone revoke$", geohazard("phone", "list", env=env).stdout,
                     re.M)
    again = geohazard("phone", "revoke", phone_id, env=env)
    assert again.returncode == 1 and f"no phone in use with id {phone_id}" in again.stderr
    assert "Traceback" not in again.stderr


def test_phone_code_for_someone_who_watches_no_point_is_refused_readably(db, database_url):
    officer = db.execute("INSERT INTO person (name, roles) VALUES ('值班员', '{duty_officer}') RETURNING id").fetchone()[0]
    result = geohazard("phone", "code", "--person", str(officer), env={"GEOHAZARD_DATABASE_URL": database_url})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"person {officer} is not a monitor nor on any point's grid" in result.stderr
    assert "code:" not in result.stdout


def test_each_demo_run_prints_a_new_link_for_a_seeded_monitor_and_withdraws_the_last_runs_unused_one(database_url):
    registry = demo_registry()
    seed_registry(database_url, registry, author="geohazard demo")
    settings = Settings(database_url=database_url)
    point = registry["points"][0]["code"]
    name, earlier = _monitor_code(settings, point, "http://127.0.0.1:8000")
    name, link = _monitor_code(settings, point, "http://127.0.0.1:8000")
    assert fetch(database_url, "SELECT count(*) FROM field_activation WHERE withdrawn_at IS NULL") == [(1,)]
    with pytest.raises(CodeRefused):
        activate_phone(database_url, earlier.rsplit("code=", 1)[1])
    assert phone_user_of(database_url, activate_phone(database_url, link.rsplit("code=", 1)[1])).name == name == "张德福"
