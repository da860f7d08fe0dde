"""TopicTrie against a ten-line reference matcher (docs/semantics.md §5.2), with the cache off, tiny and on.

Every test runs once per cache size: 0 (no cache), 2 (constant eviction) and 1024.  Random
add/remove sequences call ``_check()`` after every step; a mismatch prints the key, the bindings,
the expected and the actual result.
"""

from __future__ import annotations

import functools
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimq.topic import _EMPTY, TopicTrie, split_words

CACHE_SIZES = [0, 2, 1024]


@pytest.fixture(params=CACHE_SIZES, ids=lambda n: f"cache{n}")
def cache_size(request: pytest.FixtureRequest) -> int:
    return request.param


# ---------------------------------------------------------------------------------------------
# Reference matcher: the rules of docs/semantics.md §5.2, written as directly as possible.


def words(s: str) -> tuple[str, ...]:
    return tuple(s.split(".")) if s else ()  # '' is zero words


@functools.lru_cache(maxsize=None)
def ref_words(p: tuple[str, ...], k: tuple[str, ...]) -> bool:
    if not p:
        return not k
    if p[0] == "#":
        return any(ref_words(p[1:], k[i:]) for i in range(len(k) + 1))
    return bool(k) and (p[0] == "*" or p[0] == k[0]) and ref_words(p[1:], k[1:])


def ref_match(pattern: str, key: str) -> bool:
    return ref_words(words(pattern), words(key))


class Model:
    """The multiset of bindings plus the documented result order (first added among those bound)."""

    def __init__(self, sort_key=None) -> None:
        self.counts: Counter = Counter()
        self.first: dict = {}
        self.seq = 0
        self.sort_key = sort_key

    def add(self, pattern: str, dest) -> None:
        if not any(d == dest for (_, d) in self.counts):
            self.first[dest] = self.seq
            self.seq += 1
        self.counts[(pattern, dest)] += 1

    def remove(self, pattern: str, dest) -> None:
        if self.counts[(pattern, dest)] > 0:
            self.counts[(pattern, dest)] -= 1
        self.counts = +self.counts  # drop zero counts
        if not any(d == dest for (_, d) in self.counts):
            self.first.pop(dest, None)

    def match(self, key: str) -> tuple:
        found = {d for (p, d) in self.counts if ref_match(p, key)}
        order = self.sort_key if self.sort_key is not None else self.first.__getitem__
        return tuple(sorted(found, key=order))

    def bindings(self) -> list:
        return sorted(self.counts.items(), key=repr)


def assert_same(trie: TopicTrie, model: Model, key: str) -> None:
    actual = trie.match(key)
    expected = model.match(key)
    assert actual == expected, (
        f"key={key!r} split={split_words(key)!r}\n  bindings={model.bindings()!r}\n"
        f"  expected={expected!r}\n  actual={actual!r}"
    )
    if not actual:
        assert actual is _EMPTY, "a miss did not return the shared empty tuple"


# ---------------------------------------------------------------------------------------------
# Strategies: small alphabets so that patterns and keys collide often.

PATTERN_WORD = st.sampled_from(["", "*", "#", "a", "b", "a#", "*a"])
KEY_WORD = st.sampled_from(["", "a", "b", "*", "#", "a#"])
PATTERNS = st.lists(PATTERN_WORD, max_size=5).map(".".join)
KEYS = st.one_of(
    st.lists(KEY_WORD, max_size=6).map(".".join),
    st.sampled_from(["", ".", "..", "a..b", "a.", ".a", "a.b.c", "a...b"]),
)
DESTS = st.sampled_from(["q1", "q2", "q3", ("x", 1), 7])

OPS = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove"]), PATTERNS, DESTS),
    min_size=1,
    max_size=25,
)


def test_reference_matcher_agrees_with_semantics_table() -> None:
    # A few rows of the table, so the reference itself is pinned.
    assert ref_match("#.*", "a") and not ref_match("#.*", "")
    assert ref_match("", "") and not ref_match("", ".")
    assert ref_match("#.", ".") and not ref_match("#.", "a")


@settings(max_examples=150, deadline=None)
@given(ops=OPS, keys=st.lists(KEYS, min_size=1, max_size=6))
@pytest.mark.parametrize("cache_size", CACHE_SIZES, ids=lambda n: f"cache{n}")
def test_random_add_remove_matches_reference(cache_size: int, ops, keys) -> None:
    trie = TopicTrie(cache_size=cache_size)
    model = Model()
    for op, pattern, dest in ops:
        getattr(trie, op)(pattern, dest)
        getattr(model, op)(pattern, dest)
        # match before and after _check so cached and fresh results are both compared
        for key in keys:
            assert_same(trie, model, key)
        trie._check()
        assert len(trie) == len(model.counts)
        assert sorted(trie.patterns(), key=repr) == sorted(
            ((p, d, c) for (p, d), c in model.counts.items()), key=repr
        ), "patterns() does not list the bindings"
    for key in keys:
        assert_same(trie, model, key)


@settings(max_examples=100, deadline=None)
@given(ops=OPS, keys=st.lists(KEYS, min_size=1, max_size=6))
@pytest.mark.parametrize("cache_size", CACHE_SIZES, ids=lambda n: f"cache{n}")
def test_random_with_sort_key(cache_size: int, ops, keys) -> None:
    trie = TopicTrie(sort_key=repr, cache_size=cache_size)
    model = Model(sort_key=repr)
    for op, pattern, dest in ops:
        getattr(trie, op)(pattern, dest)
        getattr(model, op)(pattern, dest)
        for key in keys:
            assert_same(trie, model, key)
    trie._check()


@settings(max_examples=100, deadline=None)
@given(patterns=st.lists(PATTERNS, min_size=1, max_size=12), keys=st.lists(KEYS, min_size=1, max_size=10))
@pytest.mark.parametrize("cache_size", CACHE_SIZES, ids=lambda n: f"cache{n}")
def test_remove_everything_prunes_to_root(cache_size: int, patterns, keys) -> None:
    trie = TopicTrie(cache_size=cache_size)
    for i, p in enumerate(patterns):
        trie.add(p, i % 3)
    for key in keys:
        trie.match(key)
    trie._check()
    for i, p in enumerate(patterns):
        trie.remove(p, i % 3)
        trie._check()
    assert len(trie) == 0
    assert trie.stats()["nodes"] == 1
    for key in keys:
        assert trie.match(key) == ()


# ---------------------------------------------------------------------------------------------
# Fixed cases: docs/semantics.md §5.2's table, row by row.

TABLE = [
    # (patterns, keys that match, keys that do not)
    (["#", "#.#", "#.#.#"], ["", "a", ".", "a.b.c", "a..b"], []),
    ([""], [""], [".", "a"]),
    (["*"], ["a", "*", "#"], ["", ".", "a.b"]),
    (["*.*"], ["a.b", ".", "a.", ".a"], ["a", "a.b.c", ""]),
    (["*.#", "#.*", "#.*.#"], ["a", ".", "a.b", "a.b.c"], [""]),
    (["a.#"], ["a", "a.", "a.b", "a..b"], ["b.a", "", "b"]),
    (["#.a"], ["a", ".a", "x.y.a"], ["a.", "", "b"]),
    (["a.*.b"], ["a.x.b", "a..b"], ["a.b", "a...b"]),
    (["#."], [".", "..", "a.", ".a."], ["", "a"]),
    (["*.#.*"], ["a.b", ".", "a.b.c"], ["a", ""]),
    (["a#"], ["a#"], ["a", "ab", "a.b"]),
    (["a*"], ["a*"], ["a", "ab"]),
    (["#a"], ["#a"], ["a", "ba"]),
    (["*a"], ["*a"], ["a", "ba"]),
    (["."], ["."], ["", "a", "..", "a."]),
    (["a..b"], ["a..b"], ["a.b", "a...b"]),
    (["#.#.#.#.#.#"], ["", "a", "a.b.c.d.e.f.g.h"], []),
    (["a.#.#.b"], ["a.b", "a.x.b", "a.x.y.z.b"], ["a", "b", "a.b.c"]),
]


@pytest.mark.parametrize("patterns,yes,no", TABLE, ids=lambda v: repr(v)[:30])
def test_semantics_table(cache_size: int, patterns, yes, no) -> None:
    for pattern in patterns:
        trie = TopicTrie(cache_size=cache_size)
        trie.add(pattern, "q")
        for _ in range(2):  # second round reads the cache
            for key in yes:
                assert trie.match(key) == ("q",), f"pattern {pattern!r} should match key {key!r}"
            for key in no:
                assert trie.match(key) == (), f"pattern {pattern!r} should not match key {key!r}"
        trie._check()
        for key in yes + no:
            assert (trie.match(key) == ("q",)) == ref_match(pattern, key)


def test_split_words() -> None:
    assert split_words("") == []
    assert split_words(".") == ["", ""]
    assert split_words("a..b") == ["a", "", "b"]
    assert split_words("a.") == ["a", ""]


# ---------------------------------------------------------------------------------------------
# Result identity, order, multiset semantics, cache behaviour.


def test_two_misses_return_the_same_object(cache_size: int) -> None:
    trie = TopicTrie(cache_size=cache_size)
    trie.add("a.b", "q")
    trie.add("a.*.c", "q")
    first = trie.match("x.y")
    assert first == () and first is trie.match("a.b.x") and first is trie.match("") and first is trie.match("x.y")
    trie.remove("a.b", "q")
    assert trie.match("a.b") is first


def test_duplicates_removed_and_first_added_order(cache_size: int) -> None:
    trie = TopicTrie(cache_size=cache_size)
    trie.add("a.#", "late")  # first added
    trie.add("#", "early")
    trie.add("a.b", "late")
    trie.add("*.b", "early")
    trie.add("a.b", "mid")
    assert trie.match("a.b") == ("late", "early", "mid")
    assert trie.match("a.b") == ("late", "early", "mid")
    trie.remove("a.#", "late")
    trie.remove("a.b", "late")  # 'late' is no longer bound anywhere...
    trie.add("a.b", "late")  # ...so coming back makes it the newest
    assert trie.match("a.b") == ("early", "mid", "late")
    trie._check()


def test_sort_key_orders_results(cache_size: int) -> None:
    trie = TopicTrie(sort_key=lambda d: -d, cache_size=cache_size)
    for d in (1, 3, 2):
        trie.add("k", d)
        trie.add("#", d + 10)
    assert trie.match("k") == (13, 12, 11, 3, 2, 1)


def test_multiset_semantics(cache_size: int) -> None:
    trie = TopicTrie(cache_size=cache_size)
    trie.add("a.*", "q")
    trie.add("a.*", "q")
    trie.add("a.*", "q")
    assert len(trie) == 1
    assert list(trie.patterns()) == [("a.*", "q", 3)]
    trie.remove("a.*", "q")
    trie.remove("a.*", "q")
    assert trie.match("a.b") == ("q",)
    trie.remove("a.*", "q")
    assert trie.match("a.b") == ()
    trie.remove("a.*", "q")  # absent: no-op
    trie.remove("zz.#", "q")
    trie.remove("a.*", "other")
    assert len(trie) == 0 and trie.stats()["nodes"] == 1
    trie._check()


def test_empty_pattern_and_single_empty_word(cache_size: int) -> None:
    trie = TopicTrie(cache_size=cache_size)
    trie.add("", "empty")
    trie.add(".", "dot")
    assert trie.match("") == ("empty",)
    assert trie.match(".") == ("dot",)
    assert sorted(trie.patterns()) == [("", "empty", 1), (".", "dot", 1)]
    trie._check()


def test_cache_invalidation_literal_and_wildcard() -> None:
    trie = TopicTrie(cache_size=16)
    trie.add("a.b", "q1")
    assert trie.match("a.b") == ("q1",)
    assert trie.match("a.c") == ()
    trie.add("a.c", "q2")  # literal: only its own key is invalidated
    assert trie.match("a.b") == ("q1",)
    assert trie.match("a.c") == ("q2",)
    trie.add("a.*", "q3")  # wildcard: everything it might match
    assert trie.match("a.b") == ("q1", "q3")
    assert trie.match("a.c") == ("q2", "q3")
    trie.remove("a.*", "q3")
    assert trie.match("a.b") == ("q1",)
    trie._check()
    stats = trie.stats()
    assert stats["cache_hits"] >= 1 and stats["cache_misses"] >= 5
    assert stats["bindings"] == 2 and stats["cache_size"] == 16


def test_cache_is_bounded_and_evicts() -> None:
    trie = TopicTrie(cache_size=8)
    trie.add("#", "q")
    for i in range(100):
        assert trie.match(f"k{i}") == ("q",)
        assert trie.stats()["cache_entries"] <= 8
    trie._check()
    trie0 = TopicTrie(cache_size=0)
    trie0.add("#", "q")
    trie0.match("a")
    trie0.match("a")
    assert trie0.stats()["cache_entries"] == 0 and trie0.stats()["cache_hits"] == 0


def test_cached_result_is_a_hit() -> None:
    trie = TopicTrie()
    trie.add("a.*", "q")
    first = trie.match("a.b")
    assert trie.match("a.b") is first
    assert trie.stats()["cache_hits"] == 1


def test_hash_chain_is_not_exponential(cache_size: int) -> None:
    # Without de-duplicating live '#' states these take millions of steps (paths grow as C(n, k)).
    trie = TopicTrie(cache_size=cache_size)
    trie.add(".".join(["#"] * 12) + ".z", "q")
    trie.add(".".join(["#", "*"] * 8), "r")
    trie.add(".".join(["#", "a", "#"] * 6), "s")
    key = ".".join(["a"] * 200)
    start = time.perf_counter()
    assert trie.match(key) == ("r", "s")
    assert trie.match(key + ".z") == ("q", "r", "s")
    # A hang guard, not a speed check: the exponential walk would need C(200, 12) steps (years).
    assert time.perf_counter() - start < 30


def test_bad_arguments_leave_the_trie_unchanged() -> None:
    trie = TopicTrie()
    with pytest.raises(TypeError):
        trie.add(b"a.b", "q")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        trie.add("a.b.c", ["unhashable"])
    with pytest.raises(TypeError):
        trie.match(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TopicTrie(cache_size=-1)
    assert len(trie) == 0 and trie.stats()["nodes"] == 1
    trie._check()


def test_clear(cache_size: int) -> None:
    trie = TopicTrie(cache_size=cache_size)
    trie.add("a.#", "q")
    trie.match("a.b")
    trie.clear()
    assert trie.match("a.b") == () and len(trie) == 0 and not trie
    trie.add("a.#", "q")
    assert trie.match("a.b") == ("q",)
    trie._check()
