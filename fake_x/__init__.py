"""A faithful stand-in for X's API v2 "Manage Retweets" endpoints, for tests, demos and staging.

A real HTTP server (aiohttp, one process) that verifies OAuth 1.0a signatures and OAuth 2.0
bearer tokens (Authorization Code with PKCE, auto-approved, single-use refresh tokens), keeps
per-user retweet state, applies X's rate limits and error bodies, injects faults on demand, and
reproduces X's conditions (credits, usage caps, app and account refusals, deleted tweets, outages).
Tests and tools drive it through the `/_emulator/` admin API (`EmulatorAdmin`) or run it as a
child process (`EmulatorProcess`). Module map:

    config.py     EmulatorConfig (frozen) and validated runtime changes
    oauth1.py     RFC 5849 signature base string and HMAC-SHA1, independent of oauthlib
    auth.py       authenticating a request: header, keys, timestamp, signature, nonce
    accounts.py   registered consumers and access tokens
    oauth2.py     OAuth 2.0 clients, codes and tokens (rotation);  oauth2_api.py: its endpoints
    oauth2_rules.py  OAuth 2.0 scopes, PKCE, token shapes and X's refusals, stateless
    ratelimit.py  fixed windows per user and endpoint
    script.py     scripted answers;  calls.py: the call log;  nonces.py: replay protection
    conditions.py  app, account, tweet and X-wide conditions and their answers;
                  condition_specs.py: validating one;  conditions_api.py: /_emulator/conditions
    problems.py   X's answer bodies
    state.py      the emulator's mutable world;  clock.py: a clock tests can move forward
    x_api.py      the X endpoints' pipeline (outage, auth, conditions, windows, faults) and routes
    x_callers.py  who is calling (OAuth 2.0 bearer or OAuth 1.0a);  x_types.py: Answer, Caller
    x_endpoints.py  each endpoint's own checks (body schema, path id, tweet) and state change
    admin_api.py  /_emulator/;  admin_http.py: its JSON plumbing;  app.py: create_app
    server.py, cli.py, __main__.py   running it;  client.py, process.py: driving it
"""

from fake_x.app import create_app
from fake_x.client import EmulatorAdmin, EmulatorAdminError
from fake_x.config import EmulatorConfig
from fake_x.process import EmulatorProcess

__all__ = [
    "EmulatorAdmin",
    "EmulatorAdminError",
    "EmulatorConfig",
    "EmulatorProcess",
    "create_app",
]
