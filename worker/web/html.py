"""HTML built by escaping: every value put into a page is escaped, unless it is `Markup` that
these helpers built from the console's own templates.

Templates are `string.Template` strings (`$name`), filled only through `render`, which escapes
each value that is not Markup. So a dead letter's detail, a job id typed into a form or X's
own words are always text on the page, never markup, wherever a page puts them. Attribute
values are always double-quoted in the templates, and `escape` quotes `"` and `'` too.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from string import Template
from urllib.parse import urlencode


class Markup(str):
    """HTML that is safe to send as it is: made only by this module's helpers."""

    __slots__ = ()


EMPTY = Markup("")


def escape(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("-" if value is None else str(value), quote=True))


def render(template: str, /, **values: object) -> Markup:
    """`template` with each `$name` replaced by its value, escaped unless it is Markup."""
    return Markup(Template(template).substitute({k: escape(v) for k, v in values.items()}))


def join(parts: Iterable[object], sep: str = "") -> Markup:
    return Markup(escape(sep).join(escape(part) for part in parts))


def url(path: str, **query: object) -> str:
    """A same-origin path and its query string; empty values are left out. The result is
    plain text: `render` escapes it where it goes into an attribute."""
    pairs = {k: str(v) for k, v in query.items() if v is not None and v != ""}
    return f"{path}?{urlencode(pairs)}" if pairs else path


def link(href: str, text: object) -> Markup:
    return render('<a href="$href">$text</a>', href=href, text=text)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]],
          empty: str = "Nothing here.") -> Markup:
    body = [render("<tr>$cells</tr>", cells=join(render("<td>$v</td>", v=cell) for cell in row))
            for row in rows]
    if not body:
        return render('<p class="empty">$empty</p>', empty=empty)
    head = join(render('<th scope="col">$h</th>', h=h) for h in headers)
    return render("<table><thead><tr>$head</tr></thead><tbody>$body</tbody></table>",
                  head=head, body=join(body))


def fields(pairs: Iterable[tuple[str, object]]) -> Markup:
    """A two-column list of name and value."""
    items = join(render("<dt>$k</dt><dd>$v</dd>", k=k, v=v) for k, v in pairs)
    return render('<dl class="fields">$items</dl>', items=items)


def hidden(values: Mapping[str, object]) -> Markup:
    return join(render('<input type="hidden" name="$n" value="$v">', n=name, v=value)
                for name, value in values.items() if value is not None and value != "")


def action_form(action: str, csrf: str, button: str, values: Mapping[str, object] | None = None,
                *, danger: bool = False, extra: Markup = EMPTY) -> Markup:
    """A POST form carrying the session's CSRF token: the only way the console changes
    anything."""
    return render(
        '<form method="post" action="$action" class="action">$hidden$extra'
        '<button type="submit" class="$kind">$button</button></form>',
        action=action, hidden=hidden({"csrf": csrf, **(values or {})}), extra=extra,
        kind="danger" if danger else "primary", button=button)


def button_link(href: str, text: object, *, danger: bool = False) -> Markup:
    """A link styled as a button: it leads to a confirmation page, never acts by itself."""
    return render('<a class="button $kind" href="$href">$text</a>', href=href, text=text,
                  kind="danger" if danger else "primary")


NAV = (("/", "Overview"), ("/dead-letters", "Dead letters"), ("/accounts", "Accounts"),
       ("/lookup", "Lookup"))

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
$refresh<title>$title - rtq console</title>
<link rel="stylesheet" href="/static/console.css"></head>
<body><header><span class="brand">rtq console</span><nav>$nav</nav>$who</header>
<main><h1>$title</h1>$body</main></body></html>
"""


def page(title: str, body: Markup, *, current: str, user: str | None = None,
         csrf: str | None = None, refresh: int | None = None) -> str:
    """A whole page: the navigation, who is signed in (with a sign-out form), and `body`."""
    nav = join(render('<a href="$href"$here>$text</a>', href=href, text=text,
                      here=Markup(' aria-current="page"') if href == current else "")
               for href, text in NAV) if user else Markup("")
    who = Markup("")
    if user and csrf:
        who = render('<span class="who">$user $out</span>', user=user,
                     out=action_form("/logout", csrf, "Sign out"))
    meta = render('<meta http-equiv="refresh" content="$s">\n', s=refresh) if refresh else ""
    return str(render(_PAGE, title=title, body=body, nav=nav, who=who, refresh=meta))
