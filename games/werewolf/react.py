"""`react:MODELSPEC` (werewolf only): a ReAct language agent (Yao et al., 2023) as a
LangGraph graph, one run per move: think (the model writes a short thought and its act),
act (the answer becomes a legal action), and a fallback.

    think --> act --(parsed)--> END
     ^         |--(unparsable, a retry left)--> think   (told what was wrong)
     |_________|--(unparsable, no retry left)--> fallback --> END

- Memory: the game's public record as the player saw it, each speech as the text said
  (`Transcript`: language bots' own words, other bots' rendered templates), deaths,
  votes and eliminations; its private knowledge (role, wolf partner and picks, checks,
  protections); and its own last few thoughts. All of it comes from `state.view(me)`
  and the shared transcript, never from the omniscient state.
- Speaking turn: the model answers `Thought: ...` / `Say: ...` (one or two sentences).
  The text is mapped by `speech.parse_statement` to the nearest statement
  (`parse_to_action`; a statement that is not legal becomes `quiet`), and the text
  itself is recorded in the transcript for language listeners.
- Votes and night actions: the legal moves are listed, numbered by the target seat; the
  model answers `Thought: ...` / `Choice: N` (`parse_choice` also takes "I vote for
  player 4").
- An answer with nothing usable (no seat among the legal ones; an empty speech) is
  retried once with the reason, then the rule bot's choice (`bots.decide` on the view)
  is played. Both are counted: `invalid_answers`, `fallbacks`.

`speech_prompt`, `choice_prompt`, `parse_to_action` and `parse_choice` are plain
functions of a view (and the transcript), for other language agents to reuse.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import pyspiel

from games.spiel import Bot
from games.werewolf.bots import decide
from games.werewolf.game import (
    CHECK,
    KILL,
    NIGHT,
    NUM_PLAYERS,
    PROTECT,
    SPEECH,
    SPEECH_BASE,
    VOTE,
    View,
    config_of,
)
from games.werewolf.speech import Statement, parse_statement
from games.werewolf.transcript import Transcript, alive_line, private_lines

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

Message = dict[str, str]

RULES = (
    "You are playing Werewolf with 7 players, seats 0 to 6: 2 werewolves, a seer, a "
    "doctor and 3 villagers. Each night the werewolves pick a victim, the seer learns "
    "whether one player is a werewolf, and the doctor protects one player (a protected "
    "victim survives). Each day every living player speaks once, then everyone votes; "
    "the player with the most votes is eliminated (a tie eliminates nobody). Roles are "
    "never revealed. The village wins when both werewolves are dead, or when day {days} "
    "ends; the werewolves win when they are as many as the others. Werewolves know each "
    "other and pretend to be villagers."
)
SPEAK = (
    "It is your turn to speak. Think in one short sentence, then say one or two "
    "sentences to the other players (accuse, defend, support or claim a role; name "
    "players by number). Answer in exactly this form:\n"
    "Thought: <your private reasoning>\n"
    "Say: <what you tell the others>"
)
CHOOSE = "Answer in exactly this form:\nThought: <one short reason>\nChoice: <number>"
_VERBS = {KILL: "kill", CHECK: "check", PROTECT: "protect", VOTE: "vote for"}
_ASK = {
    KILL: "Night {day}: choose the player the werewolves kill.",
    CHECK: "Night {day}: choose the player whose role you check.",
    PROTECT: "Night {day}: choose the player you protect tonight.",
    VOTE: "Day {day}, the vote: choose the player you vote to eliminate.",
}
_FIELD = re.compile(r"^[\s*#>-]*(thought|say|choice)\s*\**\s*:\**", re.I | re.M)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PLAYER = re.compile(r"\b(?:player|seat|number|#)\s*#?\s*(\d+)", re.I)
MAX_SPEECH = 300
"""Characters of speech kept (two sentences at most)."""


@dataclass(frozen=True)
class ReactConfig:
    retries: int = 1
    """Retries of an unusable answer before the fallback."""
    temperature: float = 0.0
    speech_tokens: int = 96
    choice_tokens: int = 48
    memory: int = 40
    """Lines of the record shown (the latest)."""
    thoughts: int = 3
    """Earlier thoughts of its own shown."""


# -- prompts ------------------------------------------------------------------------------


def _context(view: View, transcript: Transcript, thoughts: Sequence[str], memory: int) -> str:
    record = transcript.lines(view)[-memory:] or ["(nothing yet)"]
    parts = [
        "\n".join(private_lines(view)),
        f"Day {view.day}. {alive_line(view)}.",
        "What happened so far:\n" + "\n".join(record),
    ]
    if thoughts:
        parts.append("Your earlier thoughts:\n" + "\n".join(f"- {t}" for t in thoughts))
    return "\n\n".join(parts)


def _system(view: View) -> Message:
    return {"role": "system", "content": RULES.format(days=view.config.max_days)}


def speech_prompt(
    view: View, transcript: Transcript, thoughts: Sequence[str] = (), memory: int = 40
) -> list[Message]:
    """The messages of a speaking turn: the rules, what `view`'s player knows, the record
    with speeches as text, its earlier `thoughts`, and the answer format."""
    context = _context(view, transcript, thoughts, memory)
    return [_system(view), {"role": "user", "content": f"{context}\n\n{SPEAK}"}]


def choice_label(action: int) -> str:
    """`vote for player 2`, `kill player 5`..."""
    base = action - action % NUM_PLAYERS
    return f"{_VERBS[base]} player {action % NUM_PLAYERS}"


def choice_prompt(
    view: View,
    legal: Sequence[int],
    transcript: Transcript,
    thoughts: Sequence[str] = (),
    memory: int = 40,
) -> list[Message]:
    """The messages of a vote or night action: as `speech_prompt`, then the legal moves
    numbered by their target seat."""
    context = _context(view, transcript, thoughts, memory)
    ask = _ASK[legal[0] - legal[0] % NUM_PLAYERS].format(day=view.day)
    moves = "\n".join(f"{a % NUM_PLAYERS}. {choice_label(a)}" for a in legal)
    content = f"{context}\n\n{ask}\nLegal moves:\n{moves}\n\n{CHOOSE}"
    return [_system(view), {"role": "user", "content": content}]


# -- answers ------------------------------------------------------------------------------


def answer_fields(answer: str) -> tuple[dict[str, str], str]:
    """The `Thought:`/`Say:`/`Choice:` fields of an answer (the first of each, lower-case
    keys) and the text outside any field."""
    fields: dict[str, str] = {}
    marks = list(_FIELD.finditer(answer))
    for m, nxt in zip(marks, [*marks[1:], None], strict=False):
        end = nxt.start() if nxt else len(answer)
        fields.setdefault(m.group(1).lower(), answer[m.end() : end].strip())
    loose = answer[: marks[0].start()] if marks else answer
    return fields, loose.strip()


def _clean(text: str) -> str:
    text = " ".join(text.split()).strip().strip("\"'`").strip()
    return " ".join(_SENTENCE.split(text)[:2])[:MAX_SPEECH].strip()


def parse_speech(answer: str) -> tuple[str, str]:
    """(thought, text said) of a speaking-turn answer: the `Say:` field, else the answer
    outside any field; text "" when there is none (only a thought, or nothing)."""
    fields, loose = answer_fields(answer)
    said = fields.get("say", loose)
    return _clean(fields.get("thought", "")), _clean(said)


def parse_to_action(game: pyspiel.Game, view: View, text: str) -> int:
    """The speech action of free text: `parse_statement`'s nearest statement when it is
    legal for `view`'s player, else `quiet`."""
    cat = config_of(game).catalogue
    living = [p for p in range(NUM_PLAYERS) if view.alive[p]]
    kind, target = parse_statement(text, view.me, living)
    legal = view.config.speech_actions(view.me, view.alive)
    action = SPEECH_BASE + cat.index(Statement(kind, target))
    return action if action in legal else SPEECH_BASE + cat.index(Statement("quiet"))


def parse_choice(answer: str, legal: Sequence[int]) -> tuple[str, int | None]:
    """(thought, action) of a vote or night answer: the first legal seat number in the
    `Choice:` field; else the first legal seat named as `player N` outside the fields,
    then in the thought; else an answer that is just a legal seat number. None if no
    legal seat is named."""
    fields, loose = answer_fields(answer)
    thought = _clean(fields.get("thought", ""))
    targets = {a % NUM_PLAYERS: a for a in legal}
    named = [
        *re.findall(r"\d+", fields.get("choice", "")),
        *_PLAYER.findall(loose),
        *_PLAYER.findall(fields.get("thought", "")),
        *re.findall(r"^\W*(\d+)\W*$", loose),
    ]
    seat = next((int(n) for n in named if int(n) in targets), None)
    return thought, None if seat is None else targets[seat]


# -- the graph ----------------------------------------------------------------------------


class Turn(TypedDict, total=False):
    view: View
    legal: list[int]
    messages: list[Message]
    answer: str
    tries: int
    action: int
    text: str
    thought: str
    problem: str


_LLMS: dict[str, Any] = {}
_LLMS_LOCK = threading.Lock()


def shared_llm(spec: str) -> Any:
    """One model per spec per process (every seat of a table shares its weights);
    `scripted:` models are made fresh, as their answers are consumed in order."""
    from agents.llm import load_llm  # the LLM layer enters only here

    if spec.startswith("scripted:"):
        return load_llm(spec)
    with _LLMS_LOCK:
        if spec not in _LLMS:
            _LLMS[spec] = load_llm(spec)
        return _LLMS[spec]


class ReactBot(Bot):
    """The ReAct agent as a `pyspiel.Bot` (any seat of a werewolf game)."""

    def __init__(
        self,
        game: pyspiel.Game,
        model_spec: str,
        seed: int = 0,
        *,
        llm: Any = None,
        transcript: Transcript | None = None,
        config: ReactConfig | None = None,
    ) -> None:
        super().__init__()
        config_of(game)
        self.game = game
        self.model_spec = model_spec
        self.llm: Any = llm if llm is not None else shared_llm(model_spec)
        self.transcript = transcript if transcript is not None else Transcript()
        self.config = config or ReactConfig()
        self._rng = random.Random(seed)
        self.thoughts: list[str] = []
        self._seen = 0
        self.calls = 0
        self.invalid_answers = 0
        self.fallbacks = 0
        self.thinking = ""
        self.graph = self._build()

    def restart_at(self, state: pyspiel.State) -> None:
        pass

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass

    def prompt(self, view: View, legal: Sequence[int]) -> list[Message]:
        """The messages for `view`'s move (a speech or a choice among `legal`)."""
        c, thoughts = self.config, self.thoughts[-self.config.thoughts :]
        if view.phase == SPEECH:
            return speech_prompt(view, self.transcript, thoughts, c.memory)
        return choice_prompt(view, legal, self.transcript, thoughts, c.memory)

    def step(self, state: pyspiel.State) -> int:
        me = state.current_player()
        view: View = state.view(me)
        if len(view.events) < self._seen:  # a new game: its own memory
            self.thoughts = []
        self._seen = len(view.events)
        self.transcript.reset_if_new_game(view)
        legal = list(state.legal_actions(me))
        turn: Turn = {"view": view, "legal": legal, "messages": self.prompt(view, legal)}
        out: dict[str, Any] = self.graph.invoke(turn)
        action, thought = out["action"], out.get("thought", "")
        if view.phase == SPEECH:
            self.transcript.record(view.day, me, out["text"])
        if thought:
            when = f"night {view.day}" if view.phase == NIGHT else f"day {view.day}"
            self.thoughts.append(f"{when}: {thought}")
        self.thinking = f"react {self.model_spec}: {thought or out.get('problem', '')}"
        return int(action)

    # nodes

    def _think(self, state: Turn) -> Turn:
        c = self.config
        speaking = state["view"].phase == SPEECH
        completions = self.llm.complete_sync(
            messages=state["messages"],
            n=1,
            temperature=c.temperature,
            max_tokens=c.speech_tokens if speaking else c.choice_tokens,
            seed=self._rng.randrange(2**31) if c.temperature > 0 else None,
        )
        self.calls += 1
        answer = completions[0].text if completions else ""
        return {"answer": answer or "", "tries": state.get("tries", 0) + 1}

    def _act(self, state: Turn) -> Turn:
        view, answer = state["view"], state["answer"]
        if view.phase == SPEECH:
            thought, text = parse_speech(answer)
            if text:
                action = parse_to_action(self.game, view, text)
                return {"action": action, "text": text, "thought": thought}
            problem = "there is no `Say:` line with what you tell the others"
        else:
            thought, choice = parse_choice(answer, state["legal"])
            if choice is not None:
                return {"action": choice, "thought": thought}
            problem = "it names none of the legal moves' numbers"
        self.invalid_answers += 1
        retry = f"That answer cannot be used: {problem}. Answer again, in exactly the form asked."
        messages = [
            *state["messages"],
            {"role": "assistant", "content": answer},
            {"role": "user", "content": retry},
        ]
        return {"action": -1, "messages": messages, "problem": problem}

    def _route(self, state: Turn) -> str:
        from langgraph.graph import END

        if state.get("action", -1) >= 0:
            return str(END)
        return "think" if state["tries"] <= self.config.retries else "fallback"

    def _fallback(self, state: Turn) -> Turn:
        """The rule bot's move on the same view."""
        self.fallbacks += 1
        view = state["view"]
        action, why = decide(view, self._rng)
        out: Turn = {"action": action, "thought": f"(no usable answer; rule bot: {why})"}
        if view.phase == SPEECH:
            cat = view.config.catalogue
            out["text"] = cat.render(cat.statements[action - SPEECH_BASE])
        return out

    def _build(self) -> CompiledStateGraph[Turn, None, Turn, Turn]:
        from langgraph.graph import END, START, StateGraph

        g = StateGraph(Turn)
        g.add_node("think", self._think)
        g.add_node("act", self._act)
        g.add_node("fallback", self._fallback)
        g.add_edge(START, "think")
        g.add_edge("think", "act")
        g.add_conditional_edges(
            "act", self._route, {"think": "think", "fallback": "fallback", END: END}
        )
        g.add_edge("fallback", END)
        return g.compile()
