"""The web console (`rtq web`): server-rendered pages people open in a browser to watch and
operate rtq, through the same stores and functions as the CLI. No script runs in its pages,
and nothing is loaded from anywhere but the console itself.

    app.py           create_app: the routes, security headers, sign-in and POST checks, errors
    auth.py          sign-in: signed session cookies, basic auth, CSRF tokens, Origin, scopes
    context.py       what every page shares: the stores, who is signed in, sending a page
    html.py          HTML by escaping: every value is escaped unless it is markup built here
    login.py         the login form and signing out
    overview.py      the overview: queue by lane, running, parked, dead letters, workers,
                     holds, the breaker, and the last hour's outcomes
    chart.py         the last hour's outcomes per minute as inline SVG
    dead_letters.py  dead letters: the filtered list, one entry and its attempts
    dlq_actions.py   replay and purge (one entry or a selection), behind confirmations
    accounts.py      accounts, held apps, and releasing either
    lookup.py        a job by id, an (account, tweet) pair by the key schema
    static/console.css  the stylesheet
"""
