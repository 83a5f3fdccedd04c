"""`worker.x_api.answers.read_answer`: how each of X's answers maps onto a result or an error.

Bodies are the ones recorded in docs/x-api.md.
"""

from __future__ import annotations

import json
import time

import pytest
from requests.structures import CaseInsensitiveDict

from worker.core.errors import (
    AccountLocked,
    AccountSuspended,
    AppForbidden,
    CreditsDepleted,
    Forbidden,
    HoldError,
    InvalidRequest,
    NotFound,
    PermanentXError,
    RateInfo,
    RateLimited,
    RetryableXError,
    Unauthorized,
    UsageCapped,
    XError,
    XServerError,
)
from worker.x_api.answers import XAnswer, period_end, read_answer

RATE_WINDOW = 900


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra) -> bytes:
    return body({"title": title, "detail": detail, "type": type_, "status": status, **extra})


INVALID_REQUEST = body({
    "errors": [{
        "parameters": {"tweet_id": ["abc"]},
        "message": "The `tweet_id` query parameter value [abc] is not valid",
    }],
    "title": "Invalid Request",
    "detail": "One or more parameters to your request was invalid.",
    "type": "https://api.twitter.com/2/problems/invalid-request",
})
UNAUTHORIZED = problem(401, "Unauthorized", "Unauthorized")
FORBIDDEN = problem(403, "Forbidden", "Forbidden")
NOT_FOUND = problem(
    404, "Not Found Error", "Could not find tweet with id: [20].",
    "https://api.twitter.com/2/problems/resource-not-found",
)
TOO_MANY = problem(429, "Too Many Requests", "Too Many Requests")
LEGACY_TOO_MANY = body({"errors": [{"code": 88, "message": "Rate limit exceeded"}]})
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


# -- success -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "retweeted"),
    [
        ({"data": {"retweeted": True}}, True),
        ({"data": {"retweeted": False}}, False),
        ({"data": {"retweeted": True, "rest_id": "1234", "id": "20"}}, True),
        ({"data": {"retweeted": False, "rest_id": "1234"}, "meta": {"x": 1}}, False),
    ],
    ids=["retweeted", "undone", "with-rest_id", "with-extra-top-level"],
)
def test_a_200_answer_reports_the_retweeted_state_and_ignores_unknown_fields(document, retweeted):
    """200 `data.retweeted` true/false is the answer; fields like `rest_id` are ignored."""
    answer = read_answer(200, {}, body(document))
    assert answer == XAnswer(retweeted=retweeted, http_status=200,
                             rate=RateInfo(None, None, None))


def test_a_201_answer_is_read_like_a_200():
    """A 201 with the success shape is a success too."""
    assert read_answer(201, {}, body({"data": {"retweeted": True}})).retweeted is True


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b'"ok"',
        body({}),
        body({"data": None}),
        body({"data": {}}),
        body({"data": {"retweeted": "true"}}),
        body({"data": {"retweeted": 1}}),
        body({"data": {"retweeted": None}}),
        body({"data": [{"retweeted": True}]}),
        body({"retweeted": True}),
        HTML_502,
        b"\xff\xfe\x00garbage",
    ],
    ids=repr,
)
def test_a_200_without_a_boolean_data_retweeted_is_a_retryable_server_error(raw):
    """A 200 we cannot read is not trusted as success: it is an XServerError, retried."""
    with pytest.raises(XServerError) as caught:
        read_answer(200, {}, raw)
    assert caught.value.http_status == 200
    assert "data.retweeted" in caught.value.detail


def test_a_success_carries_the_rate_headers():
    """`x-rate-limit-*` headers are read into the answer's `rate`."""
    headers = {"x-rate-limit-limit": "50", "x-rate-limit-remaining": "49",
               "x-rate-limit-reset": "1700000000"}
    answer = read_answer(200, headers, body({"data": {"retweeted": True}}))
    assert answer.rate == RateInfo(limit=50, remaining=49, reset_at=1700000000.0)


def test_rate_headers_are_read_whatever_their_case_from_a_requests_response():
    """With requests' case-insensitive headers, `X-Rate-Limit-*` spelled any way is read."""
    headers = CaseInsensitiveDict({"X-Rate-Limit-Limit": "5", "X-RATE-LIMIT-REMAINING": "0",
                                   "X-Rate-Limit-Reset": "1700000001"})
    answer = read_answer(200, headers, body({"data": {"retweeted": False}}))
    assert answer.rate == RateInfo(limit=5, remaining=0, reset_at=1700000001.0)


@pytest.mark.parametrize("bad", ["", "abc", "1.5", "soon"], ids=repr)
def test_unreadable_rate_headers_become_none_instead_of_failing(bad):
    """A malformed rate header is ignored (None), the answer is still read."""
    headers = {"x-rate-limit-limit": bad, "x-rate-limit-remaining": bad,
               "x-rate-limit-reset": bad}
    answer = read_answer(200, headers, body({"data": {"retweeted": True}}))
    assert answer.rate == RateInfo(None, None, None)
    assert answer.retweeted is True


# -- permanent errors ---------------------------------------------------------------------


def test_a_400_invalid_request_is_permanent_and_carries_xs_detail_and_message():
    """400 invalid-request -> InvalidRequest with X's detail and the per-parameter message."""
    with pytest.raises(InvalidRequest) as caught:
        read_answer(400, {}, INVALID_REQUEST)
    error = caught.value
    assert "One or more parameters to your request was invalid." in error.detail
    assert "The `tweet_id` query parameter value [abc] is not valid" in error.detail
    assert error.http_status == 400
    assert error.problem_type == "invalid-request"
    assert error.reason == "invalid_request"


@pytest.mark.parametrize(
    ("status", "raw", "error_class", "reason"),
    [
        (401, UNAUTHORIZED, Unauthorized, "unauthorized"),
        (403, FORBIDDEN, Forbidden, "forbidden"),
        (404, NOT_FOUND, NotFound, "not_found"),
    ],
)
def test_401_403_404_map_to_their_own_permanent_error(status, raw, error_class, reason):
    """401 -> Unauthorized, 403 -> Forbidden, 404 -> NotFound, each with X's detail."""
    with pytest.raises(error_class) as caught:
        read_answer(status, {}, raw)
    error = caught.value
    assert error.http_status == status
    assert error.reason == reason
    assert error.detail == json.loads(raw)["detail"]


@pytest.mark.parametrize(
    ("type_", "extra", "hint_words"),
    [
        ("https://api.twitter.com/2/problems/oauth1-permissions", {}, "read+write"),
        ("https://api.x.com/2/problems/oauth1-permissions", {}, "read+write"),
        ("https://api.twitter.com/2/problems/client-forbidden",
         {"reason": "client-not-enrolled"}, "Project"),
        ("https://api.x.com/2/problems/client-forbidden",
         {"reason": "client-not-enrolled"}, "Project"),
        ("https://api.twitter.com/2/problems/client-not-enrolled", {}, "Project"),
        ("https://api.x.com/2/problems/unsupported-authentication", {}, "OAuth 1.0a"),
    ],
)
def test_a_403_permission_problem_holds_the_app_with_an_explanatory_hint(type_, extra,
                                                                        hint_words):
    """403 oauth1-permissions / client-not-enrolled / unsupported-authentication (either host
    prefix) concern the whole app: AppForbidden, a hold, with X's words and what to change."""
    # Given X's own, terse explanation
    x_detail = "Your client app is not configured with the appropriate permissions."
    raw = problem(403, "Forbidden", x_detail, type_, **extra)
    # When the answer is read
    with pytest.raises(AppForbidden) as caught:
        read_answer(403, {}, raw)
    # Then X's detail is kept and our hint is added
    assert caught.value.detail.startswith(x_detail)
    assert hint_words in caught.value.detail
    assert caught.value.http_status == 403


def test_a_generic_403_gets_no_hint():
    """A plain 403 Forbidden keeps X's detail as it is."""
    with pytest.raises(Forbidden) as caught:
        read_answer(403, {}, FORBIDDEN)
    assert caught.value.detail == "Forbidden"


@pytest.mark.parametrize(
    "document",
    [
        {"title": "Forbidden", "type": "about:blank", "status": 403,
         "detail": "You have already retweeted this Tweet."},
        {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden",
         "errors": [{"message": "You have already retweeted this Tweet."}]},
        {"errors": [{"code": 327, "message": "You have already retweeted this Tweet."}]},
        {"errors": [{"code": 327}]},
        {"detail": "you have ALREADY RETWEETED this tweet"},
    ],
    ids=["detail", "errors-message", "legacy-327", "legacy-327-code-only", "any-case"],
)
def test_a_403_already_retweeted_is_a_success_with_retweeted_true(document):
    """403 "You have already retweeted this Tweet." means the state is retweeted: success."""
    headers = {"x-rate-limit-remaining": "3"}
    answer = read_answer(403, headers, body(document))
    assert answer.retweeted is True
    assert answer.http_status == 403
    assert answer.rate.remaining == 3


@pytest.mark.parametrize(
    "document",
    [
        {"errors": [{"code": 139, "message": "You have already favorited this status."}]},
        {"errors": [{"code": "327", "message": "Something else"}]},
        {"detail": "You are not allowed to retweet this Tweet."},
    ],
)
def test_a_403_that_is_not_already_retweeted_stays_forbidden(document):
    """Only the already-retweeted answer is turned into a success; other 403s are Forbidden."""
    with pytest.raises(Forbidden):
        read_answer(403, {}, body(document))


@pytest.mark.parametrize(
    "status", [405, 409, 410, 413, 415, 418, 422, 451],
)
def test_other_4xx_statuses_are_invalid_request(status):
    """4xx statuses without their own class (409, 422, ...) are permanent InvalidRequest."""
    with pytest.raises(InvalidRequest) as caught:
        read_answer(status, {}, problem(status, "Nope", "Nope"))
    assert caught.value.http_status == status


# -- retryable errors ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504, 520, 599])
def test_5xx_and_408_are_retryable_server_errors(status):
    """Server errors and request timeouts are XServerError, worth another attempt."""
    with pytest.raises(XServerError) as caught:
        read_answer(status, {}, problem(status, "Oops", "Service Unavailable"))
    assert caught.value.http_status == status
    assert caught.value.detail == "Service Unavailable"


@pytest.mark.parametrize("status", [204, 301, 302, 304])
def test_unexpected_non_error_statuses_are_retryable_server_errors(status):
    """A redirect or 204 is an answer we cannot read: retry rather than trust or give up."""
    with pytest.raises(XServerError):
        read_answer(status, {}, b"")


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (403, False), (404, False), (409, False), (422, False),
     (408, True), (500, True), (502, True), (503, True), (504, True)],
)
def test_the_error_class_decides_retry_versus_permanent(status, retryable):
    """5xx/408 raise a RetryableXError; 400/401/403/404 and other 4xx a PermanentXError."""
    with pytest.raises(XError) as caught:
        read_answer(status, {}, problem(status, "t", "d"))
    assert isinstance(caught.value, RetryableXError) is retryable
    assert isinstance(caught.value, PermanentXError) is not retryable


def test_rate_limited_is_neither_retryable_nor_permanent():
    """A 429 is its own kind: deferred to the reset, not retried with backoff nor dead-lettered."""
    with pytest.raises(RateLimited) as caught:
        read_answer(429, {}, TOO_MANY)
    assert not isinstance(caught.value, RetryableXError | PermanentXError)
    assert caught.value.reason == "rate_limited"


# -- 429 ----------------------------------------------------------------------------------


def test_a_429_with_a_future_reset_header_waits_until_that_reset():
    """429 with `x-rate-limit-reset` in the future -> RateLimited with reset_at equal to it."""
    reset = int(time.time()) + 300
    headers = {"x-rate-limit-limit": "50", "x-rate-limit-remaining": "0",
               "x-rate-limit-reset": str(reset)}
    with pytest.raises(RateLimited) as caught:
        read_answer(429, headers, TOO_MANY, rate_window=RATE_WINDOW)
    error = caught.value
    assert error.reset_at == float(reset)
    assert error.rate == RateInfo(limit=50, remaining=0, reset_at=float(reset))
    assert error.http_status == 429
    assert error.detail == "Too Many Requests"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1000"},
        {"x-rate-limit-reset": "not-a-number"},
    ],
    ids=["no-headers", "reset-in-the-past", "unreadable-reset"],
)
def test_a_429_without_a_usable_future_reset_waits_one_rate_window(headers):
    """Without a future reset, a 429 waits about one rate window from now."""
    before = time.time()
    with pytest.raises(RateLimited) as caught:
        read_answer(429, headers, TOO_MANY, rate_window=RATE_WINDOW)
    after = time.time()
    assert before + RATE_WINDOW <= caught.value.reset_at <= after + RATE_WINDOW


def test_a_429_uses_the_given_rate_window():
    """The fallback wait is the `rate_window` passed in, not a constant."""
    before = time.time()
    with pytest.raises(RateLimited) as caught:
        read_answer(429, {}, TOO_MANY, rate_window=60)
    assert before + 60 <= caught.value.reset_at <= time.time() + 60


def test_a_legacy_429_body_is_parsed():
    """The legacy `{"errors":[{"code":88,...}]}` 429 is RateLimited with X's message."""
    with pytest.raises(RateLimited) as caught:
        read_answer(429, {}, LEGACY_TOO_MANY)
    assert caught.value.detail == "Rate limit exceeded"


@pytest.mark.parametrize("prefix", ["x-user-limit-24hour", "x-app-limit-24hour"])
def test_an_exhausted_24_hour_limit_waits_for_the_24_hour_reset(prefix):
    """When the 24-hour limit is spent, the 429 waits for its reset, not the 15-minute one."""
    # Given a 15-minute window resetting soon and a 24-hour one resetting much later
    now = int(time.time())
    short_reset, day_reset = now + 600, now + 20_000
    headers = {
        "x-rate-limit-limit": "50", "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(short_reset),
        f"{prefix}-limit": "1000", f"{prefix}-remaining": "0", f"{prefix}-reset": str(day_reset),
    }
    # When the 429 is read
    with pytest.raises(RateLimited) as caught:
        read_answer(429, headers, TOO_MANY, rate_window=RATE_WINDOW)
    # Then the job waits for the 24-hour reset
    assert caught.value.reset_at == float(day_reset)
    assert caught.value.rate.reset_at == float(short_reset)


def test_an_exhausted_24_hour_limit_wins_even_when_the_15_minute_window_has_room():
    """24-hour remaining 0 with requests left in the 15-minute window waits for the day reset."""
    now = int(time.time())
    headers = {
        "x-rate-limit-remaining": "12", "x-rate-limit-reset": str(now + 600),
        "x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": str(now + 30_000),
    }
    with pytest.raises(RateLimited) as caught:
        read_answer(429, headers, TOO_MANY)
    assert caught.value.reset_at == float(now + 30_000)


def test_a_24_hour_limit_with_room_left_does_not_delay_the_retry():
    """A 24-hour limit that is not exhausted is ignored: the 15-minute reset decides."""
    now = int(time.time())
    headers = {
        "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(now + 600),
        "x-user-limit-24hour-remaining": "17", "x-user-limit-24hour-reset": str(now + 30_000),
    }
    with pytest.raises(RateLimited) as caught:
        read_answer(429, headers, TOO_MANY)
    assert caught.value.reset_at == float(now + 600)


# -- bodies we cannot read -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, InvalidRequest), (401, Unauthorized), (403, Forbidden), (404, NotFound),
     (429, RateLimited), (500, XServerError), (502, XServerError), (503, XServerError)],
)
@pytest.mark.parametrize(
    "raw",
    [HTML_502, b"", b"not json", b"\xff\xfe\xfd", b"null", b"[1, 2]", b'"text"', b"42"],
    ids=["html", "empty", "text", "bad-utf8", "null", "list", "string", "number"],
)
def test_non_json_or_non_object_bodies_are_handled_by_status_alone(status, error_class, raw):
    """An HTML page or any body that is not a JSON object still maps by status, with a detail."""
    with pytest.raises(error_class) as caught:
        read_answer(status, {}, raw)
    assert caught.value.detail == f"HTTP {status} from X"
    assert caught.value.http_status == status


def test_a_pathologically_nested_body_is_handled_without_crashing():
    """A garbage body of thousands of `[` is still read as an XServerError for a 502."""
    with pytest.raises(XServerError):
        read_answer(502, {}, b"[" * 100_000)


def test_the_title_is_used_when_there_is_no_detail():
    """A problem without `detail` is described by its `title`."""
    with pytest.raises(NotFound) as caught:
        read_answer(404, {}, body({"title": "Not Found Error", "type": "about:blank"}))
    assert caught.value.detail == "Not Found Error"


@pytest.mark.parametrize("status", [400, 404, 409, 500, 429])
def test_a_huge_detail_is_truncated_to_a_bounded_length(status):
    """X's detail is kept, but cut to at most 500 characters."""
    raw = body({"detail": "x" * 10_000, "errors": [{"message": "y" * 10_000}]})
    with pytest.raises(XError) as caught:
        read_answer(status, {}, raw)
    assert len(caught.value.detail) == 500
    assert caught.value.detail == "x" * 500


def test_a_huge_403_detail_with_a_hint_stays_bounded():
    """Even with our hint appended, a 403's detail stays short."""
    raw = problem(403, "Forbidden", "z" * 10_000,
                  "https://api.twitter.com/2/problems/oauth1-permissions")
    with pytest.raises(AppForbidden) as caught:
        read_answer(403, {}, raw)
    assert len(caught.value.detail) <= 1000
    assert "read+write" in caught.value.detail


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, InvalidRequest), (401, Unauthorized), (403, Forbidden), (404, NotFound),
     (429, RateLimited), (503, XServerError)],
)
def test_errors_carry_http_status_and_rate_info(status, error_class):
    """Every error carries the HTTP status and the rate headers of the answer."""
    reset = int(time.time()) + 120
    headers = {"x-rate-limit-limit": "50", "x-rate-limit-remaining": "7",
               "x-rate-limit-reset": str(reset)}
    with pytest.raises(error_class) as caught:
        read_answer(status, headers, problem(status, "t", "d"))
    assert caught.value.http_status == status
    assert caught.value.rate == RateInfo(limit=50, remaining=7, reset_at=float(reset))


# -- conditions above one job (issue 14; shapes in docs/x-api.md) ---------------------------


@pytest.mark.parametrize("document", [
    # the shape the issue quotes, and one reported from production (koala73/worldmonitor#7156)
    {"title": "CreditsDepleted", "detail": "Your enrolled account [1] does not have any credits "
     "to fulfill this request.", "type": "https://api.twitter.com/2/problems/credits-depleted",
     "status": 402},
    {"title": "Payment Required", "detail": "credits depleted",
     "type": "https://api.x.com/2/problems/credits-depleted"},
    None,
])
def test_a_402_holds_the_app_for_its_credits(document):
    """402, whatever its body, is the app's billing: CreditsDepleted, a hold, not a dead letter."""
    raw = b"" if document is None else body(document)
    with pytest.raises(CreditsDepleted) as caught:
        read_answer(402, {"x-rate-limit-remaining": "49"}, raw)
    assert isinstance(caught.value, HoldError) and not isinstance(caught.value, PermanentXError)
    assert caught.value.reason == "credits_depleted" and caught.value.http_status == 402
    assert caught.value.until is None


USAGE_CAP = {"account_id": "1", "product_name": "standard-basic", "title": "UsageCapExceeded",
             "period": "Monthly", "scope": "Product",
             "detail": "Usage cap exceeded: Monthly product cap",
             "type": "https://api.twitter.com/2/problems/usage-capped"}


def test_a_usage_capped_429_holds_the_app_until_the_period_ends():
    """A monthly usage cap is not a 15-minute window: the app waits for the month's end."""
    headers = {"x-rate-limit-limit": "50", "x-rate-limit-remaining": "49",
               "x-rate-limit-reset": str(int(time.time()) + 900)}
    with pytest.raises(UsageCapped) as caught:
        read_answer(429, headers, body(USAGE_CAP))
    assert not isinstance(caught.value, RateLimited)
    assert caught.value.until == period_end("Monthly", time.time())
    assert caught.value.until > time.time() + 900
    assert caught.value.detail == "Usage cap exceeded: Monthly product cap"


def test_a_usage_cap_is_recognised_by_its_type_or_its_title_alone():
    by_type = {"type": "https://api.x.com/2/problems/usage-capped", "detail": "capped"}
    by_title = {"title": "UsageCapExceeded", "period": "Daily"}
    for document in (by_type, by_title):
        with pytest.raises(UsageCapped):
            read_answer(429, {}, body(document))
    with pytest.raises(UsageCapped) as caught:
        read_answer(429, {}, body(by_type))
    assert caught.value.until is None  # no period: an operator releases it


def test_period_ends_are_the_next_utc_day_and_month():
    # 2026-12-31T23:00:00Z
    now = 1798758000.0
    assert period_end("Daily", now) == 1798761600.0     # 2027-01-01T00:00:00Z
    assert period_end("Monthly", now) == 1798761600.0
    assert period_end("Monthly", 1795000000.0) == 1796083200.0  # 2026-11-18 -> 2026-12-01
    assert period_end("Yearly", now) is None and period_end(None, now) is None


@pytest.mark.parametrize(("document", "error_class"), [
    ({"errors": [{"code": 326, "message": "To protect our users from spam and other malicious "
                  "activity, this account is temporarily locked."}]}, AccountLocked),
    ({"errors": [{"code": 64, "message": "Your account is suspended and is not permitted to "
                  "access this feature."}]}, AccountSuspended),
    ({"title": "Forbidden", "detail": "This account is temporarily locked.",
      "type": "about:blank", "status": 403}, AccountLocked),
    ({"title": "Forbidden", "detail": "This account is suspended.", "type": "about:blank",
      "status": 403}, AccountSuspended),
])
def test_a_locked_or_suspended_account_holds_the_account(document, error_class):
    """Legacy codes 326 and 64, and their v2 words, concern the account, not the tweet."""
    with pytest.raises(error_class) as caught:
        read_answer(403, {}, body(document))
    assert caught.value.reason in ("locked", "suspended")


@pytest.mark.parametrize("document", [
    {"errors": [{"code": 453, "message": "You currently have access to a subset of X API V2 "
                 "endpoints and limited v1.1 endpoints only."}]},
    {"errors": [{"code": 261, "message": "Application cannot perform write actions."}]},
])
def test_legacy_app_level_403_codes_hold_the_app(document):
    with pytest.raises(AppForbidden) as caught:
        read_answer(403, {}, body(document))
    assert "access level" in caught.value.detail or "write" in caught.value.detail


def test_tweet_level_403s_stay_forbidden():
    """Protected author or blocked (179): one tweet's problem, a dead letter for that job."""
    document = {"errors": [{"code": 179, "message": "Sorry, you are not authorized to see this "
                            "status."}]}
    with pytest.raises(Forbidden) as caught:
        read_answer(403, {}, body(document))
    assert not isinstance(caught.value, HoldError)


NOT_FOUND = problem(404, "Not Found Error", "Could not find tweet with tweet_id: [20].",
                    "https://api.twitter.com/2/problems/resource-not-found")


def test_an_undo_of_a_deleted_tweet_has_reached_its_goal():
    """404 to an undo: the tweet is gone and so is any retweet of it; the state is 'not
    retweeted'. The same 404 to a retweet stays NotFound."""
    answer = read_answer(404, {"x-rate-limit-remaining": "3"}, NOT_FOUND, undo=True)
    assert answer == XAnswer(retweeted=False, http_status=404, rate=answer.rate)
    assert answer.rate.remaining == 3
    with pytest.raises(NotFound):
        read_answer(404, {}, NOT_FOUND)
