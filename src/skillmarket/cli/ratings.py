"""Client commands for ratings: rate a completed invocation, read a skill's ratings."""

from __future__ import annotations

from typing import Any

import typer

from skillmarket.cli.client import ApiClient
from skillmarket.cli.output import JsonOption, console, print_json, print_table, shorten


def rating_text(rating: dict[str, Any]) -> str:
    """A rating brief or summary as people read it: ``4.25 (12)``, or ``unrated``."""
    if not rating.get("count"):
        return "unrated"
    return f"{rating['mean']:.2f} ({rating['count']})"


def rate(
    skill_id: str = typer.Argument(..., help="Skill id (skl_…); any version of the skill."),
    invocation: str = typer.Option(..., "--invocation", help="Your completed invocation (sinv_…)."),
    score: int = typer.Option(..., "--score", help="1 (worst) to 5 (best)."),
    comment: str = typer.Option(None, "--comment", help="Optional text, shown publicly."),
    as_json: bool = JsonOption,
) -> None:
    """Rate one of your completed invocations of a skill (once; ratings cannot be changed)."""
    body: dict[str, Any] = {"invocation_id": invocation, "score": score}
    if comment is not None:
        body["comment"] = comment
    result = ApiClient().request("POST", f"/v1/skills/{skill_id}/rate", json=body)
    if as_json:
        print_json(result)
        return
    rating = result["rating"]
    typer.echo(
        f"rated {rating['skill_id']}@{rating['version']} {rating['score']}/5 as {rating['id']}"
    )
    typer.echo(f"skill now {rating_text(result['summary'])}")


def _print_summary(label: str, summary: dict[str, Any]) -> None:
    if not summary["count"]:
        console.print(f"{label}: unrated", highlight=False)
        return
    console.print(
        f"{label}: mean {summary['mean']:.2f} of {summary['count']}, recency-weighted "
        f"{summary['weighted_mean']:.2f}, ranking score {summary['score']:.2f}",
        highlight=False,
    )
    most = max(summary["distribution"].values()) or 1
    for stars in ("5", "4", "3", "2", "1"):
        n = summary["distribution"][stars]
        console.print(f"  {stars}★ {'█' * round(20 * n / most):<20} {n}", highlight=False)


def ratings(
    skill_id: str = typer.Argument(..., help="Skill id (skl_…); any version of the skill."),
    version: str = typer.Option(None, "--version", help="Only this version (e.g. 1.2.0)."),
    raters: str = typer.Option(
        None, "--raters", help="Comma-separated operator ids whose ratings alone count."
    ),
    limit: int = typer.Option(20, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    as_json: bool = JsonOption,
) -> None:
    """Show a skill's rating summaries (whole skill and per version) and its latest ratings."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if version:
        params["version"] = version
    if raters is not None:
        params["raters"] = raters
    page = ApiClient().request("GET", f"/v1/skills/{skill_id}/ratings", params=params)
    if as_json:
        print_json(page)
        return
    whom = f" by {len(page['raters'])} trusted rater(s)" if page["raters"] else ""
    console.print(f"[bold]{page['name']}[/bold]{whom}", highlight=False)
    _print_summary("all versions", page["summary"])
    for entry in page["versions"]:
        console.print(f"  {entry['version']}: {rating_text(entry['summary'])}", highlight=False)
    if not page["items"]:
        typer.echo("no ratings yet")
        return
    print_table(
        None,
        ["rating", "version", "rater", "score", "when", "comment"],
        [
            (
                r["id"],
                r["version"],
                r["rater_id"],
                f"{r['score']}/5",
                r["created_at"][:10],
                shorten(r["comment"] or ""),
            )
            for r in page["items"]
        ],
    )
    if page["has_more"]:
        typer.echo(f"more ratings: --offset {offset + limit}")
