"""`agents serve`: an OpenAI-compatible HTTP server over any model spec (agents/llm/server.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError, field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.settings import CommandSettings, Count, NonNegative
from agents.llm.config import LLMConfig, describe
from foundation.errors import UserError

if TYPE_CHECKING:
    from agents.llm import LLM

API_KEY_ENV = "AGENTS_SERVE_API_KEY"


def register(cli: CLI) -> None:
    cli.app.command("serve")(serve)


class ServeSettings(CommandSettings):
    """`agents serve`'s options; `llm_config()` is the served model's `LLMConfig`.

    A --host other than a loopback address (127.0.0.1, ::1, localhost) without an API key
    is an error: the server would hand the model (and the key of a hosted one) to anyone
    on the network."""

    model: str = "local:smollm2"
    served_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    base_url: str | None = None
    concurrency: Count = 8
    default_max_tokens: Count = 1024
    max_cost: NonNegative | None = None
    no_cache: bool = False

    @field_validator("port")
    @classmethod
    def _port(cls, port: int) -> int:
        if not 1 <= port <= 65535:
            raise ValueError(f"--port must be in 1..65535 (got {port})")
        return port

    @field_validator("served_name", "api_key")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _key_off_loopback(self) -> Self:
        from agents.llm.server import is_loopback

        if not is_loopback(self.host) and self.api_key is None:
            raise ValueError(
                f"--host {self.host} serves beyond this machine: set an API key too "
                f"(--api-key or {API_KEY_ENV}), or keep --host 127.0.0.1"
            )
        return self

    @property
    def name(self) -> str:
        """The id clients send as `model` (and /v1/models lists)."""
        return self.served_name or self.model

    def llm_config(self) -> LLMConfig:
        try:
            return LLMConfig(
                model=self.model,
                base_url=self.base_url,
                concurrency=self.concurrency,
                max_cost=self.max_cost,
                cache=not self.no_cache,
            )
        except ValidationError as exc:
            raise UserError(self.explain(exc)) from None


def serve(
    model: Annotated[str, typer.Option("--model", "-m", help=describe("model"))] = "local:smollm2",
    served_name: Annotated[
        str | None,
        typer.Option(
            "--served-name",
            help="The model id clients send and GET /v1/models lists (default: the --model "
            "spec, which requests may always use).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Anything but a loopback address (127.0.0.1, ::1, "
            "localhost) needs --api-key.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (1-65535).")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar=API_KEY_ENV,
            help="Require this key from clients (Authorization: Bearer KEY; the openai "
            "client's api_key). Without it the server asks for none.",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help=describe("base_url"), show_default=False)
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            help="Model calls in flight at once; more requests wait. A local: model batches "
            "the calls in flight.",
        ),
    ] = 8,
    default_max_tokens: Annotated[
        int,
        typer.Option(
            "--default-max-tokens",
            help="max_tokens of a request that sets neither max_tokens nor max_completion_tokens.",
        ),
    ] = 1024,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help=describe("max_cost") + " Past it, requests get 429 insufficient_quota.",
            show_default=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Bypass the response cache (by default a repeated request at temperature 0 "
            "is answered from it, as in every command).",
        ),
    ] = False,
) -> None:
    """Serve a model over HTTP with OpenAI's chat-completions API: POST /v1/chat/completions
    (n, temperature, max_tokens, stop, seed, logprobs, stream, tools) and GET /v1/models.
    Point any OpenAI client at the printed URL. Ctrl-C stops it."""
    settings = ServeSettings(
        model=model, served_name=served_name, host=host, port=port, api_key=api_key,
        base_url=base_url, concurrency=concurrency, default_max_tokens=default_max_tokens,
        max_cost=max_cost, no_cache=no_cache,
    )  # fmt: skip
    from agents.llm import load_llm
    from agents.llm.server import AppServer, bind, create_app

    llm = _oracle(settings) or load_llm(settings.llm_config())
    app = create_app(
        llm,
        settings.name,
        api_key=settings.api_key,
        aliases=(settings.model,),
        default_max_tokens=settings.default_max_tokens,
    )
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
        ) from None

    def ready(url: str) -> None:
        key = "; clients must send the API key" if settings.api_key else ""
        sys.stdout.write(f"serving {settings.name} at {url} (OpenAI API{key}; Ctrl-C stops)\n")
        sys.stdout.flush()

    server = AppServer(app, sock, on_ready=ready)
    # uvicorn stops gracefully on Ctrl-C (the app closes the model), then re-raises it.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve_bound())
    sys.stderr.write("stopped\n")


def _oracle(settings: ServeSettings) -> LLM | None:
    """The noisy SWE-bench oracle of an `oracle:swe,...` spec (over swe-mini), metered and
    limited like any model; None for any other spec. It answers our agents' prompts and
    mini-swe-agent's (benchmarks/swe_bench/noisy_oracle.py); no cache: it is
    deterministic and instant."""
    from agents.llm import ConcurrencyLimitedLLM, MeteredLLM
    from benchmarks.swe_bench.noisy_oracle import oracle_for_spec

    oracle = oracle_for_spec(settings.model)
    if oracle is None:
        return None
    return MeteredLLM(ConcurrencyLimitedLLM(oracle, settings.concurrency))
