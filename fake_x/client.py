"""`EmulatorAdmin`: a small synchronous client for the emulator's `/_emulator/` admin API."""

from __future__ import annotations

from typing import Any

import requests

DEFAULT_TIMEOUT_S = 10.0


class EmulatorAdminError(RuntimeError):
    """The admin API refused a request; the message carries the emulator's explanation."""


class EmulatorAdmin:
    """Drive a running emulator: accounts, faults, scripts, conditions, state, clock and the
    call log."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._owns_session = session is None
        self.timeout = timeout

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(
            method, f"{self.base_url}/_emulator/{path}", timeout=self.timeout, **kwargs
        )
        if response.status_code >= 400:
            raise EmulatorAdminError(
                f"{method} /_emulator/{path} -> {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def register_account(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        **profile: str,
    ) -> dict[str, Any]:
        """Register known credentials (optional `name`, `username`); returns the public view."""
        body = {
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "access_token": access_token,
            "access_token_secret": access_token_secret,
            **profile,
        }
        result: dict[str, Any] = self._request("POST", "accounts", json=body)
        return result

    def new_account(self) -> dict[str, Any]:
        """Generate and register a credential set (with secrets and `user_id`)."""
        result: dict[str, Any] = self._request("POST", "accounts", json={})
        return result

    def accounts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "accounts")["accounts"]
        return result

    def revoke(self, user_id: str) -> None:
        self._request("DELETE", f"accounts/{user_id}")

    def oauth2_client(
        self,
        confidential: bool = False,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris: list[str] | None = None,
    ) -> dict[str, Any]:
        """Register an OAuth 2.0 client: `client_id` (generated unless given), `confidential`,
        and `client_secret` for a confidential client. A given secret makes it confidential;
        `redirect_uris` makes the authorize page insist on one of them."""
        body: dict[str, Any] = {}
        if confidential:
            body["confidential"] = True
        if client_id is not None:
            body["client_id"] = client_id
        if client_secret is not None:
            body["client_secret"] = client_secret
        if redirect_uris is not None:
            body["redirect_uris"] = redirect_uris
        result: dict[str, Any] = self._request("POST", "oauth2/clients", json=body)
        return result

    def oauth2_clients(self) -> list[dict[str, Any]]:
        """Registered OAuth 2.0 clients, without secrets."""
        result: list[dict[str, Any]] = self._request("GET", "oauth2/clients")["clients"]
        return result

    def oauth2_revoke(self, user_id: str) -> int:
        """Revoke every OAuth 2.0 access and refresh token of `user_id`; returns how many."""
        count: int = self._request("POST", "oauth2/revoke", json={"user_id": user_id})["tokens"]
        return count

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Merge settings into the fault/limit config; returns the whole new config."""
        result: dict[str, Any] = self._request("POST", "config", json=settings)
        return result

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "config")
        return result

    def script(self, rules: list[dict[str, Any]]) -> None:
        """Append scripted-answer rules (consumed in order by matching calls)."""
        self._request("POST", "script", json=rules)

    def clear_script(self) -> None:
        self._request("DELETE", "script")

    def calls(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded calls; filters: user_id, tweet_id, action, since (sequence number)."""
        params = {key: str(value) for key, value in filters.items() if value is not None}
        result: list[dict[str, Any]] = self._request("GET", "calls", params=params)["calls"]
        return result

    def token_calls(self, **filters: Any) -> list[dict[str, Any]]:
        """Calls to the OAuth 2.0 token endpoint (`grant_type`, `status`, `user_id`...)."""
        return self.calls(action="token", **filters)

    def clear_calls(self) -> None:
        self._request("DELETE", "calls")

    def state(self, user_id: str | None = None) -> dict[str, list[str]]:
        params = {"user_id": user_id} if user_id is not None else {}
        result: dict[str, list[str]] = self._request("GET", "state", params=params)["retweets"]
        return result

    def set_state(self, user_id: str, tweet_id: str, retweeted: bool) -> None:
        body = {"user_id": user_id, "tweet_id": tweet_id, "retweeted": retweeted}
        self._request("POST", "state", json=body)

    def add_condition(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Make X answer as it does when something is wrong (docs/x-api.md, "What the emulator
        reproduces"): e.g. `add_condition("credits_depleted", consumer_key=key)`. Returns the
        condition with its `id` and every default filled in."""
        body = {"kind": kind, **fields}
        result: dict[str, Any] = self._request("POST", "conditions", json=body)
        return result

    def conditions(self) -> list[dict[str, Any]]:
        """The conditions in force, oldest first (ended ones are gone)."""
        result: list[dict[str, Any]] = self._request("GET", "conditions")["conditions"]
        return result

    def remove_condition(self, condition_id: str) -> None:
        """End one condition; EmulatorAdminError (404) if it is unknown or has already ended."""
        self._request("DELETE", f"conditions/{condition_id}")

    def clear_conditions(self) -> None:
        self._request("DELETE", "conditions")

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward; returns its new "now" (epoch seconds)."""
        now: float = self._request("POST", "clock", json={"advance": seconds})["now"]
        return now

    def now(self) -> float:
        now: float = self._request("GET", "clock")["now"]
        return now

    def reset(self, accounts: bool = False) -> None:
        self._request("POST", "reset", json={"accounts": accounts})

    def health(self) -> bool:
        """True if the emulator answers; False if it is down or unreachable."""
        try:
            self._request("GET", "health")
        except (requests.RequestException, EmulatorAdminError, ValueError):
            return False
        return True

    def in_flight(self) -> int:
        """X API calls the emulator is handling right now (e.g. held by a hang)."""
        count: int = self._request("GET", "health")["in_flight"]
        return count

    def close(self) -> None:
        if self._owns_session:
            self._session.close()
