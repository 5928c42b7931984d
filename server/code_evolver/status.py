"""The endpoint table and the doctor's findings, as text for the CLI and the editor."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .llm import OllamaClient, ProbeResult, RoleStatus
from .llm.ollama_api import has_model
from .llm.pool import EndpointStatus

ACTIVE_ROLES = ("generator", "overseer", "evaluator")


def probe_all(client: OllamaClient, timeout: float = 5.0) -> dict[str, ProbeResult]:
    """Probe every distinct endpoint of every role once (`/api/tags`)."""
    results: dict[str, ProbeResult] = {}
    for role in client.status():
        settings = client.role_settings(role.role)
        for endpoint in settings.endpoints:
            if endpoint.url not in results:
                results[endpoint.url] = client.probe(endpoint, timeout, settings.api)
    return results


def render_status(roles: list[RoleStatus], probes: dict[str, ProbeResult] | None = None) -> str:
    """A plain-text table: role, model, strategy, then one row per endpoint."""
    lines = []
    for role in roles:
        note = (
            " (kept for old configs; fixes use the generator)" if role.role == "escalation" else ""
        )
        queued = f", {role.queued} queued" if role.queued else ""
        lines.append(
            f"{role.role}: model {role.model}, {role.strategy}, {role.requests} request(s)"
            f"{queued}{note}"
        )
        tiers = len({ep.priority for ep in role.endpoints}) > 1
        weights = len({ep.weight for ep in role.endpoints}) > 1
        for ep in role.endpoints:
            state = ep.state
            if ep.state == "cooling":
                state = f"cooling {ep.cooling_for:.0f} s"
            probe = probes.get(ep.url) if probes else None
            if probe is not None and ep.state == "ok":
                state = "ok" if probe.ok else "unreachable"
                if probe.ok and not has_model(probe.models, role.model, probe.api):
                    state = "model missing"
            error = ep.last_error or (probe.error if probe is not None else None)
            latency = f", last {ep.last_latency:.2f} s" if ep.last_latency is not None else ""
            lines.append(
                f"  {ep.url:<32} {state:<14} requests {ep.requests} "
                f"(ok {ep.successes}, failed {ep.failures}){latency}"
                + routing_text(ep, tiers, weights)
                + (f"  last error: {error}" if error else "")
            )
    return "\n".join(lines)


def routing_text(ep: EndpointStatus, tiers: bool, weights: bool) -> str:
    """Tier, weight, slots in use and loaded models, for the parts that say something."""
    parts = []
    if tiers:
        parts.append(f"tier {ep.priority}")
    if weights:
        parts.append(f"weight {ep.weight:g}")
    if ep.max_parallel is not None:
        parts.append(f"slots {ep.slots_in_use}/{ep.max_parallel}")
    elif ep.slots_in_use:
        parts.append(f"busy {ep.slots_in_use}")
    if ep.loaded is not None:
        parts.append("loaded: " + (", ".join(ep.loaded) or "none"))
    return f"; {', '.join(parts)}" if parts else ""


@dataclass(frozen=True)
class Finding:
    role: str
    model: str
    url: str
    ok: bool
    problem: str | None
    fix: str | None
    routing: str = ""  # tier, weight, slots and loaded models, when configured or known


def diagnose(client: OllamaClient, probes: dict[str, ProbeResult]) -> list[Finding]:
    """Per role and endpoint: is it reachable and does it have the role's model?"""
    findings = []
    loaded: dict[str, list[str] | None] = {}
    watching = {pool.role for pool in client.pools() if pool.wants_loaded_models}
    for name in ACTIVE_ROLES:
        role = client.role_settings(name)
        for endpoint in role.endpoints:
            probe = probes[endpoint.url]
            if probe.ok and name in watching and endpoint.url not in loaded:
                # What is in memory now: a model that is pulled but not loaded costs a cold load.
                loaded[endpoint.url] = client.loaded_models(endpoint)
                if loaded[endpoint.url] is not None:
                    client.registry.set_loaded(
                        endpoint.url, loaded[endpoint.url] or (), endpoint.api or role.api
                    )
            findings.append(_finding(client, name, role.model, endpoint.api or role.api, probe))
        statuses = next(r for r in client.status() if r.role == name).endpoints
        tiers = len({ep.priority for ep in statuses}) > 1
        weights = len({ep.weight for ep in statuses}) > 1
        for i, ep in enumerate(statuses):
            index = len(findings) - len(statuses) + i
            findings[index] = replace(findings[index], routing=routing_text(ep, tiers, weights))
    return findings


def _finding(client: OllamaClient, role: str, model: str, api: str, probe: ProbeResult) -> Finding:
    """What one probe says of one role's endpoint, with advice that fits its kind of server
    and names the config file that was loaded."""
    where = client.config.source or "config.yaml"
    if not probe.ok:
        start = (
            "start Ollama there (`ollama serve`)"
            if api == "ollama"
            else "start the model server there (llama.cpp, vLLM, LM Studio, ...)"
        )
        advice = (
            f"{start}, or check the URL in {where} (ollama.models.{role}) and that port "
            f"{_port(probe.url)} is open"
        )
        return Finding(role, model, probe.url, False, probe.error, advice)
    if has_model(probe.models, model, probe.api):
        return Finding(role, model, probe.url, True, None, None)
    have = ", ".join(probe.models) or "none"
    if probe.api == "ollama":
        problem = f"model '{model}' is not pulled (it has: {have})"
        advice = f"run `ollama pull {model}` on that machine"
    else:
        problem = f"it serves no model '{model}' (its /v1/models lists: {have})"
        advice = (
            f"serve '{model}' there, or set ollama.models.{role}.model in {where} to one it lists"
        )
    return Finding(role, model, probe.url, False, problem, advice)


def roles_ready(findings: list[Finding]) -> bool:
    """Every active role has at least one endpoint that is up and has its model."""
    return all(any(f.ok for f in findings if f.role == role) for role in ACTIVE_ROLES)


def render_findings(findings: list[Finding]) -> str:
    lines = []
    for role in ACTIVE_ROLES:
        mine = [f for f in findings if f.role == role]
        ready = any(f.ok for f in mine)
        model = mine[0].model if mine else "?"
        lines.append(f"{role} ({model}): {'ready' if ready else 'NOT READY'}")
        for f in mine:
            if f.ok:
                lines.append(f"  ok    {f.url}{f.routing}")
            else:
                lines.append(f"  FAIL  {f.url}: {f.problem}{f.routing}")
                lines.append(f"        fix: {f.fix}")
    return "\n".join(lines)


def _port(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return str(parts.port or (443 if parts.scheme == "https" else 80))
