"""Deterministic models for the repository-agent tests: they answer from the prompt's state.

`PlanLLM` plays tkem__cachetools-1: with no value feedback in the prompt its first edit is
`first` (broken or correct); once siblings were judged ("Other attempts") it makes the
correct edit. After an edit it runs the LRU tests, then finishes. As a judge it rates the
diff: +60 for the correct fix, -60 for the broken one, 0 otherwise.
"""

from __future__ import annotations

import json

from agents.llm import BaseLLM, Completion, Usage
from agents.swe.actions import Action, format_action

IID = "tkem__cachetools-1"
PATH = "src/cachetools/__init__.py"
OLD = (
    "        self.__order = collections.OrderedDict()\n\n"
    "    def __getitem__(self, key, cache_getitem=Cache.__getitem__):\n"
    "        return cache_getitem(self, key)\n"
)
FIX = OLD.replace(
    "        return cache_getitem(self, key)\n",
    "        value = cache_getitem(self, key)\n"
    "        if key in self:  # __missing__ may not store item\n"
    "            self.__update(key)\n"
    "        return value\n",
)
BROKEN = OLD.replace(
    "        return cache_getitem(self, key)\n",
    "        return None  # reads skip the cache\n",
)


def edit(new: str, thought: str) -> str:
    return format_action(
        Action("str_replace", (("path", PATH), ("old", OLD), ("new", new)), thought)
    )


FIND = "THOUGHT: find the class\nACTION: find_class\nname: LRUCache"
TESTS = "THOUGHT: check\nACTION: run_tests\ntarget: tests/test_lru.py"
FINISH = "THOUGHT: done\nACTION: finish"
CORRECT_PLAN = [FIND, edit(FIX, "update the order on reads"), TESTS, FINISH]
BROKEN_PLAN = [FIND, edit(BROKEN, "update the order first"), TESTS, FINISH]


class PlanLLM(BaseLLM):
    def __init__(self, first: str = "broken"):
        self.name = f"plan:{first}"
        self.first = first
        self.calls = 0
        self.answers: list[str] = []  # every answer, in order (a server can replay them)

    async def _complete(self, request):
        self.calls += 1
        msgs = request.messages
        system = str(msgs[0]["content"])
        text = "\n".join(str(m["content"]) for m in msgs)
        if system.startswith("You review"):
            diff = text.split("Current diff:", 1)[1]
            value = 60 if "if key in self" in diff else -60 if "return None" in diff else 0
            text_out = json.dumps(
                {"explanation": "read the diff", "feedback": "fix reads", "value": value}
            )
        else:
            edited = "replaced " in text and "Observation" in text
            tested = edited and "exit " in text.split("replaced ")[-1]
            if not edited:
                retry = "Other attempts" in text or self.first == "correct"
                if "class LRUCache" not in text and not retry:
                    text_out = FIND
                else:
                    text_out = edit(FIX if retry else BROKEN, "edit")
            elif not tested:
                text_out = TESTS
            else:
                text_out = FINISH
        self.answers.append(text_out)
        return [Completion(text_out, "stop", None, Usage(10, 5), self.name, 0)]


# A patch that makes the harness's eval-script file a symlink to `{target}` (a host path):
# git apply refuses a path in .git/, the GNU patch fallback creates the link.
SYMLINK_PATCH = """\
diff --git a/.git/swe_eval.sh b/.git/swe_eval.sh
new file mode 120000
index 0000000..1111111
--- /dev/null
+++ b/.git/swe_eval.sh
@@ -0,0 +1 @@
+{target}
\\ No newline at end of file
"""
