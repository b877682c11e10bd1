"""The swe-mini instances: a bug (as edits on the fixed tree), the tests that expose it,
and the report a user would file. `build.py` turns these into SWE-bench JSONL."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spec:
    repo: str
    number: int
    kind: str  # the bug's kind, for the dataset summary
    problem_statement: str
    # (path, fixed text, buggy text): applied fixed -> buggy to make the base tree
    bug: tuple[tuple[str, str, str], ...]
    # path -> test code appended to that file in the fixed tree (removed in the base)
    new_tests: dict[str, str] = field(default_factory=dict)
    # True when the released sdist itself has the bug (a real upstream bug): the
    # snapshot gets the fix and the base keeps the released code.
    upstream_bug: bool = False
    hints_text: str = ""
    # (path, fixed text, base text) on test files: upstream tests that would catch the bug
    # are missing from the base and come back with the test patch.
    base_test_edits: tuple[tuple[str, str, str], ...] = ()

    @property
    def instance_id(self) -> str:
        return f"{self.repo.replace('/', '__')}-{self.number}"


CT = "src/cachetools/__init__.py"
_NEGATIVE_ORDINALS = "".join(
    f'    ("-{n}", "-{n}{s}"),\n'
    for n, s in [(1, "st"), (2, "nd"), (3, "rd"), (4, "th"), (5, "th"), (6, "th"), (7, "th"),
                 (8, "th"), (9, "th"), (10, "th"), (11, "th"), (12, "th"), (13, "th"),
                 (14, "th"), (20, "th"), (21, "st"), (22, "nd"), (23, "rd"), (24, "th"),
                 (100, "th"), (101, "st"), (102, "nd"), (103, "rd"), (104, "th"), (110, "th"),
                 (111, "th"), (112, "th"), (113, "th"), (1000, "th"), (1001, "st")]
)  # fmt: skip
_HUNDRED_ORDINALS = "".join(
    f'    ("{n}", "{n}{s}"),\n'
    for n, s in [(100, "th"), (101, "st"), (102, "nd"), (103, "rd"), (104, "th"), (110, "th"),
                 (111, "th"), (112, "th"), (113, "th"), (1000, "th"), (1001, "st")]
)  # fmt: skip
SPECS: list[Spec] = [
    # ---------------------------------------------------------------- cachetools
    Spec(
        repo="tkem/cachetools",
        number=1,
        kind="state not updated (LRU order on read)",
        problem_statement=(
            "LRUCache evicts items I just read\n\n"
            "With cachetools 5.3.3 an `LRUCache` seems to behave like a FIFO cache: reading an "
            "item does not make it recently used.\n\n"
            "```python\nfrom cachetools import LRUCache\nc = LRUCache(maxsize=2)\n"
            "c['a'] = 1\nc['b'] = 2\nc['a']          # touch 'a'\nc['c'] = 3\n"
            "print(list(c))  # ['b', 'c'] -- expected ['a', 'c']\n```\n\n"
            "I expected 'b' (the least recently used key) to be evicted, not 'a'.\n"
        ),
        bug=(
            (
                CT,
                "        value = cache_getitem(self, key)\n"
                "        if key in self:  # __missing__ may not store item\n"
                "            self.__update(key)\n"
                "        return value\n\n"
                "    def __setitem__(self, key, value, cache_setitem=Cache.__setitem__):\n"
                "        cache_setitem(self, key, value)\n"
                "        self.__update(key)\n\n"
                "    def __delitem__(self, key, cache_delitem=Cache.__delitem__):\n"
                "        cache_delitem(self, key)\n"
                "        del self.__order[key]\n\n"
                "    def popitem(self):\n"
                '        """Remove and return the `(key, value)` pair least recently used."""',
                "        return cache_getitem(self, key)\n\n"
                "    def __setitem__(self, key, value, cache_setitem=Cache.__setitem__):\n"
                "        cache_setitem(self, key, value)\n"
                "        self.__update(key)\n\n"
                "    def __delitem__(self, key, cache_delitem=Cache.__delitem__):\n"
                "        cache_delitem(self, key)\n"
                "        del self.__order[key]\n\n"
                "    def popitem(self):\n"
                '        """Remove and return the `(key, value)` pair least recently used."""',
            ),
        ),
        base_test_edits=(
            (
                "tests/test_lru.py",
                "        self.assertNotIn(1, cache)\n\n"
                "        cache[2]\n        cache[4] = 4\n        self.assertEqual(len(cache), 2)\n"
                "        self.assertEqual(cache[2], 2)\n        self.assertEqual(cache[4], 4)\n"
                "        self.assertNotIn(3, cache)\n\n"
                "        cache[5] = 5\n        self.assertEqual(len(cache), 2)\n"
                "        self.assertEqual(cache[4], 4)\n        self.assertEqual(cache[5], 5)\n"
                "        self.assertNotIn(2, cache)\n",
                "        self.assertNotIn(1, cache)\n",
            ),
        ),
        new_tests={
            "tests/test_lru.py": """

def test_lru_read_refreshes_recency():
    from cachetools import LRUCache

    cache = LRUCache(maxsize=2)
    cache["a"] = 1
    cache["b"] = 2
    assert cache["a"] == 1
    cache["c"] = 3
    assert sorted(cache) == ["a", "c"]


def test_lru_get_refreshes_recency():
    from cachetools import LRUCache

    cache = LRUCache(maxsize=2)
    cache[1] = "one"
    cache[2] = "two"
    assert cache.get(1) == "one"
    cache[3] = "three"
    assert 1 in cache and 2 not in cache
""",
        },
    ),
    Spec(
        repo="tkem/cachetools",
        number=2,
        kind="boundary condition (off-by-one in expiry), multi-hunk",
        problem_statement=(
            "TTLCache returns items at the exact moment they expire\n\n"
            "An item stored in a `TTLCache(maxsize=10, ttl=10, timer=...)` at time 0 is still "
            "returned at time 10, although the docs say an item expires after `ttl` time units "
            "and `expire(10)` should remove it. `10 in cache` is True and `len(cache)` counts "
            "it too. Only at 10.000001 does it disappear. With a fake timer:\n\n"
            "```python\nt = [0]\ncache = TTLCache(maxsize=10, ttl=10, timer=lambda: t[0])\n"
            "cache['k'] = 'v'\nt[0] = 10\nprint('k' in cache, cache.get('k'))  "
            "# True v -- expected False None\n```\n"
        ),
        base_test_edits=(
            ("tests/test_ttl.py", "method:test_ttl", ""),
            ("tests/test_ttl.py", "method:test_ttl_expire", ""),
            ("tests/test_ttl.py", "method:test_ttl_tuple_key", ""),
        ),
        bug=(
            (
                CT,
                "            return False\n        else:\n"
                "            return self.timer() < link.expires\n",
                "            return False\n        else:\n"
                "            return self.timer() <= link.expires\n",
            ),
            (
                CT,
                "            expired = not (self.timer() < link.expires)\n"
                "        if expired:\n            return self.__missing__(key)",
                "            expired = not (self.timer() <= link.expires)\n"
                "        if expired:\n            return self.__missing__(key)",
            ),
            (
                CT,
                "        while curr is not root and not (time < curr.expires):\n"
                "            cache_delitem(self, curr.key)\n            del links[curr.key]",
                "        while curr is not root and not (time <= curr.expires):\n"
                "            cache_delitem(self, curr.key)\n            del links[curr.key]",
            ),
            (
                CT,
                "            with self.timer as time:\n"
                "                if time < curr.expires:\n                    yield curr.key",
                "            with self.timer as time:\n"
                "                if time <= curr.expires:\n                    yield curr.key",
            ),
        ),
        new_tests={
            "tests/test_ttl.py": """

def test_ttl_expires_exactly_at_ttl():
    from cachetools import TTLCache

    now = [0]
    cache = TTLCache(maxsize=10, ttl=10, timer=lambda: now[0])
    cache["k"] = "v"
    now[0] = 9
    assert "k" in cache and cache["k"] == "v"
    now[0] = 10
    assert "k" not in cache
    assert cache.get("k") is None
    assert list(cache) == []


def test_ttl_expire_removes_items_at_deadline():
    from cachetools import TTLCache

    now = [0]
    cache = TTLCache(maxsize=10, ttl=5, timer=lambda: now[0])
    cache[1] = 1
    now[0] = 2
    cache[2] = 2
    cache.expire(5)
    assert list(cache.keys()) == [2]
""",
        },
    ),
    Spec(
        repo="tkem/cachetools",
        number=3,
        kind="missing case (keyword argument types ignored)",
        problem_statement=(
            "typedkey ignores the types of keyword arguments\n\n"
            "`cachetools.keys.typedkey(x=1)` and `typedkey(x=1.0)` compare equal, so a function "
            "decorated with `@cached(cache, key=typedkey)` (or `func.lru_cache(typed=True)`) "
            "returns the cached result for `f(x=1)` when called as `f(x=1.0)`. Positional "
            "arguments are typed correctly: `typedkey(1) != typedkey(1.0)`.\n"
        ),
        bug=(
            (
                "src/cachetools/keys.py",
                "    key += tuple(type(v) for v in args)\n"
                "    key += tuple(type(v) for _, v in sorted(kwargs.items()))\n",
                "    key += tuple(type(v) for v in args)\n",
            ),
        ),
        new_tests={
            "tests/test_keys.py": """

def test_typedkey_keyword_types():
    import cachetools.keys

    assert cachetools.keys.typedkey(x=1) != cachetools.keys.typedkey(x=1.0)
    assert cachetools.keys.typedkey(1, y=2) == cachetools.keys.typedkey(1, y=2)


def test_typed_lru_cache_keyword_arguments():
    import cachetools.func

    @cachetools.func.lru_cache(typed=True)
    def kind(x):
        return type(x).__name__

    assert kind(x=1) == "int"
    assert kind(x=1.0) == "float"
""",
        },
    ),
    Spec(
        repo="tkem/cachetools",
        number=4,
        kind="API contract (bare decorator form), multi-hunk",
        problem_statement=(
            "@lru_cache without parentheses returns a decorator instead of the function\n\n"
            "The docs say the `cachetools.func` decorators can be used like "
            "`functools.lru_cache`, also without arguments. But\n\n"
            "```python\nfrom cachetools.func import lru_cache, ttl_cache\n\n@lru_cache\n"
            "def square(x):\n    return x * x\n\nsquare(3)\n```\n\n"
            "returns a function object instead of 9 (and `square.cache_info` is missing). "
            "`@ttl_cache` has the same problem; `@lru_cache()` works.\n"
        ),
        base_test_edits=(("tests/test_func.py", "method:test_decorator_user_function", ""),),
        bug=(
            (
                "src/cachetools/func.py",
                "        return _cache(LRUCache(128), 128, typed)(maxsize)\n",
                "        return _cache(LRUCache(128), 128, typed)\n",
            ),
            (
                "src/cachetools/func.py",
                "        return _cache(TTLCache(128, ttl, timer), 128, typed)(maxsize)\n",
                "        return _cache(TTLCache(128, ttl, timer), 128, typed)\n",
            ),
        ),
        new_tests={
            "tests/test_func.py": """

def test_bare_lru_cache_decorator():
    from cachetools.func import lru_cache

    @lru_cache
    def square(x):
        return x * x

    assert square(3) == 9
    assert square(3) == 9
    assert square.cache_info().hits == 1
    assert square.cache_parameters() == {"maxsize": 128, "typed": False}


def test_bare_ttl_cache_decorator():
    from cachetools.func import ttl_cache

    @ttl_cache
    def double(x):
        return 2 * x

    assert double(4) == 8
    assert double.cache_info().misses == 1
""",
        },
    ),
    # ---------------------------------------------------------------- parse
    Spec(
        repo="r1chardj0n3s/parse",
        number=1,
        kind="case handling (upper-case base prefixes)",
        problem_statement=(
            "{:d} does not understand 0X / 0B / 0O prefixes\n\n"
            "`parse('{:d}', '0x1f')[0]` gives 31, but `parse('{:d}', '0X1F')[0]` gives "
            "something else (1) -- the upper-case prefix is not recognised and the digits are "
            "read as decimal. Same for `0B101` and `0O17`. Python's `int('0X1F', 0)` accepts "
            "both cases, so I'd expect parse to as well.\n"
        ),
        bug=(
            (
                "parse.py",
                '                if string[number_start + 1] in "bB":\n'
                "                    base = 2\n"
                '                elif string[number_start + 1] in "oO":\n'
                "                    base = 8\n"
                '                elif string[number_start + 1] in "xX":\n',
                '                if string[number_start + 1] == "b":\n'
                "                    base = 2\n"
                '                elif string[number_start + 1] == "o":\n'
                "                    base = 8\n"
                '                elif string[number_start + 1] == "x":\n',
            ),
        ),
        new_tests={
            "tests/test_parsetype.py": """

def test_int_upper_case_prefixes():
    assert parse.parse("{:d}", "0X1F")[0] == 31
    assert parse.parse("{:d}", "-0B101")[0] == -5
    assert parse.parse("{:d}", "0O17")[0] == 15
    assert parse.parse("{:d}", "0x1f")[0] == 31
""",
        },
    ),
    Spec(
        repo="r1chardj0n3s/parse",
        number=2,
        kind="ignored argument (endpos)",
        problem_statement=(
            "findall() ignores endpos\n\n"
            "```python\n>>> import parse\n>>> [r[0] for r in parse.findall('<{}>', "
            "'<a> <b> <c>', endpos=7)]\n['a', 'b', 'c']\n```\n\n"
            "I expected `['a', 'b']`: `search(..., endpos=7)` respects the end position, "
            "`findall` does not.\n"
        ),
        bug=(
            (
                "parse.py",
                "        m = self.parser._search_re.search(self.string, self.pos, self.endpos)\n",
                "        m = self.parser._search_re.search(self.string, self.pos)\n",
            ),
        ),
        new_tests={
            "tests/test_findall.py": """

def test_findall_respects_endpos():
    found = [r[0] for r in parse.findall("<{}>", "<a> <b> <c>", endpos=7)]
    assert found == ["a", "b"]


def test_findall_pos_and_endpos():
    found = [r[0] for r in parse.findall("<{}>", "<a> <b> <c>", pos=1, endpos=11)]
    assert found == ["b", "c"]
""",
        },
    ),
    Spec(
        repo="r1chardj0n3s/parse",
        number=3,
        kind="parameter not forwarded (case_sensitive), multi-hunk",
        problem_statement=(
            "search() and findall() ignore case_sensitive=True\n\n"
            "`parse.parse('Hello {}', 'hello world', case_sensitive=True)` correctly returns "
            "None, but the module-level `parse.search` and `parse.findall` still match "
            "case-insensitively:\n\n"
            "```python\n>>> parse.search('Hello {:w}', 'hello world', case_sensitive=True)\n"
            "<Result ('world',) {}>\n```\n\n"
            "Expected None. `parse.compile(..., case_sensitive=True).search(...)` works.\n"
        ),
        base_test_edits=(("tests/test_findall.py", "method:test_case_sensitivity", ""),),
        bug=(
            (
                "parse.py",
                "    p = Parser(format, extra_types=extra_types, case_sensitive=case_sensitive)\n"
                "    return p.search(string, pos, endpos, evaluate_result=evaluate_result)\n",
                "    p = Parser(format, extra_types=extra_types)\n"
                "    return p.search(string, pos, endpos, evaluate_result=evaluate_result)\n",
            ),
            (
                "parse.py",
                "    p = Parser(format, extra_types=extra_types, case_sensitive=case_sensitive)\n"
                "    return p.findall(string, pos, endpos, evaluate_result=evaluate_result)\n",
                "    p = Parser(format, extra_types=extra_types)\n"
                "    return p.findall(string, pos, endpos, evaluate_result=evaluate_result)\n",
            ),
        ),
        new_tests={
            "tests/test_search.py": """

def test_search_case_sensitive():
    assert parse.search("Hello {:w}", "hello world", case_sensitive=True) is None
    assert parse.search("Hello {:w}", "say Hello world", case_sensitive=True)[0] == "world"
    assert parse.search("Hello {:w}", "hello world")[0] == "world"
""",
            "tests/test_findall.py": """

def test_findall_case_sensitive():
    found = parse.findall("x{:d}", "x1 X2 x3", case_sensitive=True)
    assert [r[0] for r in found] == [1, 3]
""",
        },
    ),
    # ---------------------------------------------------------------- inflection
    Spec(
        repo="jpvanhal/inflection",
        number=1,
        kind="arithmetic edge case (ordinals of 111, negatives)",
        problem_statement=(
            "ordinalize gives 111st and -1th\n\n"
            "```python\n>>> inflection.ordinalize(111)\n'111st'\n"
            ">>> inflection.ordinalize(-1)\n'-1th'\n```\n\n"
            "Expected '111th' and '-1st' (like 11th and 1st). Looks like only 11, 12, 13 "
            "themselves are special-cased, not 111, 212, ..., and negative numbers are not "
            "handled.\n"
        ),
        base_test_edits=(
            ("test_inflection.py", _NEGATIVE_ORDINALS, ""),
            ("test_inflection.py", _HUNDRED_ORDINALS, ""),
        ),
        bug=(
            (
                "inflection/__init__.py",
                "    number = abs(int(number))\n    if number % 100 in (11, 12, 13):\n",
                "    number = int(number)\n    if number in (11, 12, 13):\n",
            ),
        ),
        new_tests={
            "test_inflection.py": """

@pytest.mark.parametrize(
    ("number", "expected"),
    [(111, "111th"), (112, "112th"), (1013, "1013th"), (-1, "-1st"), (-112, "-112th")],
)
def test_ordinalize_hundreds_and_negatives(number, expected):
    assert inflection.ordinalize(number) == expected
""",
        },
    ),
    Spec(
        repo="jpvanhal/inflection",
        number=2,
        kind="regex escaping (separator used unescaped)",
        problem_statement=(
            "parameterize breaks with separator='.' or '+'\n\n"
            "```python\n>>> inflection.parameterize('Donald E. Knuth', '.')\n'.onald.e.knut.'\n"
            ">>> inflection.parameterize('a  b', '+')\nre.error: multiple repeat\n```\n\n"
            "Expected 'donald.e.knuth' and 'a+b'. The separator seems to be put into a regular "
            "expression without escaping.\n"
        ),
        bug=(
            (
                "inflection/__init__.py",
                "        re_sep = re.escape(separator)\n",
                "        re_sep = separator\n",
            ),
        ),
        new_tests={
            "test_inflection.py": """

@pytest.mark.parametrize(
    ("separator", "expected"),
    [(".", "donald.e.knuth"), ("+", "donald+e+knuth"), ("*", "donald*e*knuth")],
)
def test_parameterize_with_regex_special_separator(separator, expected):
    assert inflection.parameterize("Donald E. Knuth", separator) == expected
""",
        },
    ),
    Spec(
        repo="jpvanhal/inflection",
        number=3,
        kind="missing rule (acronyms in camel case)",
        problem_statement=(
            "underscore() glues acronyms to the next word\n\n"
            "```python\n>>> inflection.underscore('HTTPRequest')\n'httprequest'\n"
            ">>> inflection.titleize('XMLHttpRequest')\n'Xmlhttp Request'\n```\n\n"
            "Rails (which this library ports) gives 'http_request' and 'Xml Http Request'.\n"
        ),
        base_test_edits=(
            (
                "test_inflection.py",
                '    ("HTMLTidy",              "html_tidy"),\n'
                '    ("HTMLTidyGenerator",     "html_tidy_generator"),\n',
                "",
            ),
        ),
        bug=(
            (
                "inflection/__init__.py",
                "    word = re.sub(r\"([A-Z]+)([A-Z][a-z])\", r'\\1_\\2', word)\n"
                "    word = re.sub(r\"([a-z\\d])([A-Z])\", r'\\1_\\2', word)\n",
                "    word = re.sub(r\"([a-z\\d])([A-Z])\", r'\\1_\\2', word)\n",
            ),
        ),
        new_tests={
            "test_inflection.py": """

@pytest.mark.parametrize(
    ("camel", "expected"),
    [("HTTPRequest", "http_request"), ("XMLHttpRequest", "xml_http_request"),
     ("ABCDef", "abc_def")],
)
def test_underscore_splits_acronyms(camel, expected):
    assert inflection.underscore(camel) == expected


def test_titleize_acronym():
    assert inflection.titleize("XMLHttpRequest") == "Xml Http Request"
""",
        },
    ),
    # ---------------------------------------------------------------- toolz
    Spec(
        repo="pytoolz/toolz",
        number=1,
        kind="empty input (StopIteration leaks), real upstream bug",
        upstream_bug=True,
        problem_statement=(
            "interpose raises StopIteration on an empty sequence\n\n"
            "```python\n>>> from toolz import interpose\n>>> list(interpose('a', []))\n"
            "Traceback (most recent call last):\n  ...\nStopIteration\n```\n\n"
            "I expected `[]`. Inside a generator this StopIteration becomes a RuntimeError, "
            "which is how I noticed it.\n"
        ),
        bug=(
            (
                "toolz/itertoolz.py",
                "    inposed = concat(zip(itertools.repeat(el), seq))\n"
                "    next(inposed, None)\n    return inposed\n",
                "    inposed = concat(zip(itertools.repeat(el), seq))\n"
                "    next(inposed)\n    return inposed\n",
            ),
        ),
        new_tests={
            "toolz/tests/test_itertoolz.py": """

def test_interpose_empty():
    assert list(interpose("a", [])) == []
    assert list(interpose("a", iter([]))) == []
    assert list(interpose("a", [1])) == [1]
""",
        },
    ),
    Spec(
        repo="pytoolz/toolz",
        number=2,
        kind="exception handling (IndexError not caught), multi-file",
        problem_statement=(
            "get_in / get with a default raise IndexError for short lists\n\n"
            "```python\n>>> from toolz import get_in, get\n"
            ">>> get_in(['a', 5], {'a': [1, 2]}, default=0)\nIndexError: list index out of "
            "range\n>>> get([0, 9], [10, 20], default=None)\nIndexError: list index out of "
            "range\n```\n\n"
            "Missing dict keys return the default as documented, but an out-of-range list "
            "index raises. Expected 0 and `(10, None)`.\n"
        ),
        base_test_edits=(
            ("toolz/tests/test_itertoolz.py", "method:test_get", ""),
            ("toolz/tests/test_itertoolz.py", "method:test_pluck", ""),
        ),
        bug=(
            (
                "toolz/dicttoolz.py",
                "    except (KeyError, IndexError, TypeError):\n        if no_default:\n",
                "    except (KeyError, TypeError):\n        if no_default:\n",
            ),
            (
                "toolz/itertoolz.py",
                "        return seq[ind]\n    except (KeyError, IndexError):\n"
                "        return default\n",
                "        return seq[ind]\n    except KeyError:\n        return default\n",
            ),
            (
                "toolz/itertoolz.py",
                "    except (KeyError, IndexError):  # we know `ind` is not a list\n",
                "    except KeyError:  # we know `ind` is not a list\n",
            ),
        ),
        new_tests={
            "toolz/tests/test_dicttoolz.py": """

def test_get_in_index_out_of_range_default():
    from toolz import get_in

    assert get_in(["a", 5], {"a": [1, 2]}, default=0) == 0
    assert get_in([3], [1, 2]) is None
    assert raises(IndexError, lambda: get_in([3], [1, 2], no_default=True))
""",
            "toolz/tests/test_itertoolz.py": """

def test_get_index_out_of_range_default():
    assert get([0, 9], [10, 20], default=None) == (10, None)
    assert get(9, [10, 20], default="x") == "x"
    assert raises(IndexError, lambda: get(9, [10, 20]))
""",
        },
    ),
    Spec(
        repo="pytoolz/toolz",
        number=3,
        kind="aliasing (input mutated)",
        problem_statement=(
            "update_in mutates nested dicts of its input\n\n"
            "toolz functions are supposed to be pure, but\n\n"
            "```python\n>>> from toolz import update_in\n>>> d = {'a': {'b': 1}}\n"
            ">>> update_in(d, ['a', 'b'], lambda x: x + 1)\n{'a': {'b': 2}}\n>>> d\n"
            "{'a': {'b': 2}}\n```\n\n"
            "The original `d` changed. The top-level dict is copied, the nested ones are not.\n"
        ),
        bug=(
            (
                "toolz/dicttoolz.py",
                "            d = d[k]\n            dtemp = factory()\n            dtemp.update(d)\n",
                "            d = dtemp = d[k]\n",
            ),
        ),
        new_tests={
            "toolz/tests/test_dicttoolz.py": """

def test_update_in_does_not_mutate_nested_input():
    from toolz import update_in

    d = {"a": {"b": {"c": 1}}, "x": 0}
    out = update_in(d, ["a", "b", "c"], lambda v: v + 1)
    assert out == {"a": {"b": {"c": 2}}, "x": 0}
    assert d == {"a": {"b": {"c": 1}}, "x": 0}
""",
        },
    ),
    # ---------------------------------------------------------------- colorama (unittest)
    Spec(
        repo="tartley/colorama",
        number=1,
        kind="default handling (empty cursor-position parameters)",
        problem_statement=(
            "Cursor position with an omitted row goes to the wrong place\n\n"
            "On Windows, `print('\\033[;5H' + 'x')` should put the cursor on row 1, column 5 "
            "(an empty parameter means the default, 1), but colorama moves it to row 5, "
            "column 1. `AnsiToWin32(...).extract_params('H', ';5')` returns `(5, 1)` instead "
            "of `(1, 5)`; `'\\033[5;H'` is fine.\n"
        ),
        bug=(
            (
                "colorama/ansitowin32.py",
                "            params = tuple(int(p) if len(p) != 0 else 1 for p in "
                "paramstring.split(';'))\n",
                "            params = tuple(int(p) for p in paramstring.split(';') if len(p) != 0)\n",
            ),
        ),
        new_tests={
            "colorama/tests/ansitowin32_test.py": """

class CursorPositionParamsTest(TestCase):
    def testEmptyRowDefaultsToOne(self):
        stream = AnsiToWin32(Mock())
        self.assertEqual(stream.extract_params('H', ';5'), (1, 5))
        self.assertEqual(stream.extract_params('f', ';7'), (1, 7))

    def testEmptyParamsDefaultToHome(self):
        stream = AnsiToWin32(Mock())
        self.assertEqual(stream.extract_params('H', ''), (1, 1))
        self.assertEqual(stream.extract_params('H', '3;'), (3, 1))
""",
        },
    ),
]
