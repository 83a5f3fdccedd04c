"""`rtq apps ...`: the X apps (consumer keys, OAuth 2.0 clients) X refuses as a whole: list
them, and release one once its cause is fixed (credits bought, permissions changed)."""

from __future__ import annotations

import click

from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, print_table
from worker.domain.holds import AppHold, parse_app_id


@click.group("apps")
def apps_group() -> None:
    """X apps held by X as a whole (credits depleted, usage cap, app permissions)."""


@apps_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
@handle_errors
def list_apps(ctx: Context, as_json: bool) -> None:
    """List held apps: why, since when, until when and how many jobs wait for each."""
    holds = ctx.holds.apps()
    if as_json:
        for hold in holds:
            emit_json({**hold.as_dict(), "default": hold.app == ctx.default_app})
        return
    print_table([_row(ctx, hold) for hold in holds],
                ["APP", "REASON", "SINCE", "UNTIL", "HELD_JOBS", "DETAIL"])


def _row(ctx: Context, hold: AppHold) -> list[str]:
    name = f"{hold.app} (default)" if hold.app == ctx.default_app != "default" else hold.app
    return [name, hold.reason, hold.since or "-", hold.until or "until released",
            str(hold.held_jobs), " ".join(hold.detail.split()) or "-"]


@apps_group.command("release")
@click.argument("app")
@pass_context
@handle_errors
def release(ctx: Context, app: str) -> None:
    """Release APP (its id as `rtq apps list` shows it, or `default` for RTQ_CONSUMER_KEY's
    app) once X accepts it again: its held jobs go back to the queue."""
    try:
        wanted = parse_app_id(app, ctx.default_app)
    except ValueError as exc:
        fail(f"app: {exc}", code=2)
        return
    released, was_held = ctx.holds.release_app(wanted)
    if not was_held and not released:
        fail(f"app: app {wanted} is not held (`rtq apps list` shows the held apps)")
    ctx.audit("apps.release", wanted, released)
    click.echo(f"app {wanted}: released, {released} held job(s) back in the queue")
