"""Every route against the stand-in: the success path and each declared error status."""

from __future__ import annotations

import copy

import pytest

import pieces_user
from pieces_user import Client
from support import Standin, load_fixture


def test_snapshot_returns_the_signed_in_user(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c:
        assert c.snapshot() == {"user": load_fixture("UserProfile.max.json")}


def test_snapshot_signed_out_has_no_user(signed_out: Standin) -> None:
    with Client(signed_out.url, timeout=5) as c:
        assert c.snapshot().get("user") is None


def test_refresh(standin: Standin, signed_out: Standin) -> None:
    with Client(standin.url, timeout=5) as c:
        assert c.refresh() == load_fixture("UserProfile.max.json")
    with Client(signed_out.url, timeout=5) as c, pytest.raises(pieces_user.ServerError) as e:
        c.refresh()
    assert e.value.status == 500 and e.value.body
    assert e.value.category == "server_error" and e.value.code == 12


def test_select_signs_in_a_user_derived_from_auth0(signed_out: Standin) -> None:
    auth0 = load_fixture("Auth0User.max.json")
    with Client(signed_out.url, access_token="token-123", timeout=5) as c:
        profile = c.select(auth0)
        assert profile["id"]
        assert profile.get("name") == auth0.get("name")
        assert profile.get("email") == auth0.get("email")
        assert c.snapshot().get("user") == profile


def test_update_round_trips_and_is_stored(standin: Standin) -> None:
    profile = load_fixture("UserProfile.max.json")
    profile["aesthetics"]["font"]["size"] = 31
    profile["aNewKeyFromTheFuture"] = {"kept": [1, 2, 3]}
    with Client(standin.url, timeout=5) as c:
        assert c.update(profile) == profile
        assert c.snapshot().get("user") == profile


def test_update_vanity(standin: Standin, signed_out: Standin) -> None:
    profile = load_fixture("UserProfile.max.json")
    profile["vanityname"] = "someone-new"
    with Client(standin.url, timeout=5) as c:
        assert c.update_vanity(profile)["vanityname"] == "someone-new"
        taken = copy.deepcopy(profile)
        taken["vanityname"] = "taken"
        with pytest.raises(pieces_user.Conflict) as e:
            c.update_vanity(taken)
        assert e.value.status == 409 and e.value.category == "conflict"
    with Client(signed_out.url, timeout=5) as c, pytest.raises(pieces_user.NotFound) as nf:
        c.update_vanity(profile)
    assert nf.value.status == 404


def test_beta_status(standin: Standin, signed_out: Standin) -> None:
    status = load_fixture("UserBetaStatus.max.json")
    with Client(standin.url, timeout=5) as c:
        assert c.beta_status(status) == status
    with Client(signed_out.url, timeout=5) as c, pytest.raises(pieces_user.AuthenticationRequired) as e:
        c.beta_status(status)
    assert e.value.status == 511


def test_providers_is_not_implemented_locally(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c, pytest.raises(pieces_user.NotImplementedLocally) as e:
        c.providers()
    assert e.value.status == 501
    assert e.value.body is not None and "not implemented" in e.value.body
    assert isinstance(e.value, pieces_user.HttpError)


def test_clear_signs_out(standin: Standin) -> None:
    with Client(standin.url, timeout=5) as c:
        assert c.clear() is None
        assert c.snapshot().get("user") is None


def test_stream_url(standin: Standin) -> None:
    with Client(standin.url + "/", timeout=5) as c:
        assert c.stream_url() == f"ws://127.0.0.1:{standin.port}/user/stream"


def test_json_text_is_accepted_as_is(standin: Standin) -> None:
    text = '{"id":"u1","aesthetics":{"theme":{"dark":true},"font":{"size":12}}}'
    with Client(standin.url, timeout=5) as c:
        assert c.update(text)["id"] == "u1"
        assert c.update(text.encode())["aesthetics"]["font"]["size"] == 12


def test_close_is_idempotent_and_later_calls_fail(standin: Standin) -> None:
    c = Client(standin.url, timeout=5)
    c.close()
    c.close()
    assert c.closed
    with pytest.raises(pieces_user.ClientClosed):
        c.snapshot()
    with pytest.raises(pieces_user.InvalidInput):
        c.update({"id": "x", "aesthetics": {"theme": {"dark": True}, "font": {"size": 1}}})
