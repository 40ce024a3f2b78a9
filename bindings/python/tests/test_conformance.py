"""Conformance with the official SDK (pieces-os-client 5.0.1): against the same stand-in, each route
called through both clients gives equal documents, as JSON values.

Allowed differences, and only these: the official SDK invents `email` = "user@pieces.app" and
`picture` = "https://picsum.photos/200" when a profile has none (spec 7.0), and it re-formats
date-times (`…+00:00` vs `…Z`), so date-time strings are compared as instants.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Tuple

import pytest

import pieces_user
from pieces_user import Client
from support import Standin, load_fixture

sdk = pytest.importorskip("pieces_os_client", reason="pip install pieces-os-client==5.0.1")
if getattr(sdk, "__version__", "5.0.1") != "5.0.1":  # pragma: no cover - the venv pins it
    pytest.fail(f"conformance needs pieces-os-client 5.0.1, found {sdk.__version__}", pytrace=False)

from pieces_os_client.api.user_api import UserApi  # noqa: E402
from pieces_os_client.api_client import ApiClient  # noqa: E402
from pieces_os_client.configuration import Configuration  # noqa: E402
from pieces_os_client.exceptions import ApiException  # noqa: E402
from pieces_os_client.models.auth0_user import Auth0User  # noqa: E402
from pieces_os_client.models.user_beta_status import UserBetaStatus  # noqa: E402
from pieces_os_client.models.user_profile import UserProfile  # noqa: E402

SDK_DEFAULTS = {"email": "user@pieces.app", "picture": "https://picsum.photos/200"}
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def official(url: str) -> Any:
    return UserApi(ApiClient(Configuration(host=url, access_token="token-123")))


def as_json(model: Any) -> Any:
    """The official model as a JSON value, wire key names, absent optionals dropped."""
    if model is None:
        return None
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str) and DATE_TIME.match(value):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def drop_invented(theirs: Any, ours: Any) -> Any:
    """Removes the official SDK's invented email/picture wherever our document has none."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        out = {}
        for k, v in theirs.items():
            if k in SDK_DEFAULTS and v == SDK_DEFAULTS[k] and ours.get(k) is None and "id" in theirs:
                continue
            out[k] = drop_invented(v, ours.get(k))
        return out
    if isinstance(theirs, list) and isinstance(ours, list):
        return [drop_invented(t, o) for t, o in zip(theirs, ours)]
    return theirs


def assert_same(theirs: Any, ours: Any) -> None:
    t, o = normalize(theirs), normalize(ours)
    assert drop_invented(t, o) == o


@pytest.fixture
def both(standin: Standin) -> Tuple[Any, Client]:
    client = Client(standin.url, access_token="token-123", timeout=5)
    yield official(standin.url), client
    client.close()


def test_snapshot_and_refresh(both: Tuple[Any, Client]) -> None:
    api, ours = both
    assert_same(as_json(api.user_snapshot()), ours.snapshot())
    assert_same(as_json(api.refresh_user()), ours.refresh())


@pytest.mark.parametrize("fixture", ["UserProfile.max.json", "UserProfile.min.json"])
def test_update_and_vanity(both: Tuple[Any, Client], fixture: str) -> None:
    api, ours = both
    doc = load_fixture(fixture)
    assert_same(as_json(api.update_user(user_profile=UserProfile.from_dict(doc))), ours.update(doc))
    doc["vanityname"] = "conformance"
    theirs = as_json(api.user_update_vanity(user_profile=UserProfile.from_dict(doc)))
    assert_same(theirs, ours.update_vanity(doc))
    # The state both leave behind is the same too.
    assert_same(as_json(api.user_snapshot()), ours.snapshot())


@pytest.mark.parametrize("fixture", ["UserBetaStatus.max.json", "UserBetaStatus.min.json"])
def test_beta_status(both: Tuple[Any, Client], fixture: str) -> None:
    api, ours = both
    doc = load_fixture(fixture)
    theirs = as_json(api.user_beta_status(user_beta_status=UserBetaStatus.from_dict(doc)))
    assert_same(theirs, ours.beta_status(doc))


def test_select(both: Tuple[Any, Client]) -> None:
    api, ours = both
    doc = load_fixture("Auth0User.max.json")
    assert doc.get("user_id"), "the stand-in derives the id from user_id; needed for equal answers"
    assert_same(as_json(api.select_user(auth0_user=Auth0User.from_dict(doc))), ours.select(doc))


def _official_error(call: Callable[[], Any]) -> ApiException:
    with pytest.raises(ApiException) as e:
        call()
    return e.value


def test_providers_error_matches(both: Tuple[Any, Client]) -> None:
    api, ours = both
    theirs = _official_error(api.user_providers)
    with pytest.raises(pieces_user.NotImplementedLocally) as e:
        ours.providers()
    assert (theirs.status, theirs.body) == (e.value.status, e.value.body)


def test_clear_then_signed_out_everywhere(both: Tuple[Any, Client], standin: Standin) -> None:
    api, ours = both
    assert api.clear_user() is None
    assert ours.clear() is None
    assert_same(as_json(api.user_snapshot()), ours.snapshot())
    assert ours.snapshot().get("user") is None
    theirs = _official_error(api.refresh_user)
    with pytest.raises(pieces_user.ServerError) as e:
        ours.refresh()
    assert (theirs.status, theirs.body) == (e.value.status, e.value.body)
    status = load_fixture("UserBetaStatus.max.json")
    theirs = _official_error(lambda: api.user_beta_status(user_beta_status=UserBetaStatus.from_dict(status)))
    with pytest.raises(pieces_user.AuthenticationRequired) as e2:
        ours.beta_status(status)
    assert (theirs.status, theirs.body) == (e2.value.status, e2.value.body)
